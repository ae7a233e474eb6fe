import Foundation
import TesseraCrypto
import TesseraPolicy

/// What an unauthenticated request may put into the audit log, bounded and cleaned: the log is
/// never pruned, fsynced for every entry and copied to every sink, so an attacker's 60 KB
/// `client_id` or 8 KB User-Agent must not reach it as sent (security review, finding 4).
public enum AuditText {
    /// Longer User-Agent strings are cut; real ones are well under 200 bytes.
    public static let maximumUserAgentBytes = 256

    /// `text` cut to at most `maximumBytes` of UTF-8 at a character boundary, with control
    /// characters (which split or forge log lines in text sinks) replaced by U+FFFD; a cut is
    /// marked with how much was dropped.
    public static func bounded(_ text: String, maximumBytes: Int) -> String {
        // Every request's User-Agent comes through here: printable ASCII within the limit, the
        // usual case, is decided from the bytes alone.
        if text.utf8.count <= maximumBytes, text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return text }
        let clean = text.unicodeScalars.contains(where: isControl)
            ? String(String.UnicodeScalarView(text.unicodeScalars.map { isControl($0) ? "\u{FFFD}" : $0 }))
            : text
        guard clean.utf8.count > maximumBytes else { return clean }
        var kept = ""
        var bytes = 0
        for character in clean {
            let size = character.utf8.count
            guard bytes + size <= maximumBytes else { break }
            kept.append(character)
            bytes += size
        }
        return kept + "...(\(clean.utf8.count - bytes) more bytes)"
    }

    /// How a client id that no client has is recorded: never verbatim, since people paste
    /// secrets into the user name field, and never at full length. A short prefix is kept when
    /// the id looks like a client id (a typo such as `tesera-cli` stays recognisable), with a
    /// SHA-256 fingerprint and the length, so repeated attempts with one id correlate and an
    /// admin can check a suspected value by hashing it.
    public static func unknownClientID(_ id: String) -> String {
        let fingerprint = AuditChain.hex(Array(SHA256.hash(Array(id.utf8)).prefix(8)))
        let prefix = ClientDefinition.isValidID(id) ? String(id.prefix(8)) + "..." : ""
        return "unknown:\(prefix)sha256:\(fingerprint):\(id.utf8.count)B"
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}
