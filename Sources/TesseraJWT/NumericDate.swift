import Foundation

/// The NumericDates (RFC 7519 §2) Tessera believes: from 2000-01-01 up to 2100-01-01 UTC.
///
/// RFC 7519 allows any JSON number, but no real token was issued before 2000 or expires after
/// 2100, and a signed `"auth_time": -1e300` is a number that overflows every conversion to an
/// integer: refusing such dates when a token is verified keeps the arithmetic downstream sound.
public enum NumericDate {
    /// 2000-01-01T00:00:00Z.
    public static let earliest: TimeInterval = 946_684_800
    /// 2100-01-01T00:00:00Z.
    public static let latest: TimeInterval = 4_102_444_800

    /// Whether `seconds` since the epoch is a date a token may carry.
    public static func isPlausible(_ seconds: Double) -> Bool {
        seconds >= earliest && seconds < latest
    }

    /// The reason a claim's date is refused, for error messages.
    public static func implausible(_ name: String) -> String {
        "\"\(name)\" must be a NumericDate between 2000-01-01 and 2100-01-01"
    }
}
