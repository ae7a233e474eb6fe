import Foundation

/// The free text a request carries (`justification`, `ticket`), made into the one value that
/// is checked by the rules, written into the token and recorded in the audit log: surrounding
/// whitespace (Unicode White_Space, so also U+2003 EM SPACE) is removed, empty text is no text,
/// and text holding a control character (Unicode Cc: C0, DEL, C1, so also a newline or tab
/// inside it) or a bidirectional override or isolate (U+202A-U+202E, U+2066-U+2069, which make
/// a log line read differently from what it holds) is refused. Checking one string and issuing
/// another would let `" INC-42 \n"` pass a pattern and reach every resource server raw.
public enum RequestText {
    public struct Refusal: Error, Sendable, Hashable {
        public let message: String

        public init(message: String) {
            self.message = message
        }
    }

    /// The longest justification any role may accept (`max_length` is at most 10,000).
    public static let maximumJustificationCharacters = 10_000

    /// Approvers' comments and reasons for ending: as justifications, at most 2,000 characters.
    public static let maximumCommentCharacters = 2000

    public static func comment(_ raw: String?) throws(Refusal) -> String? {
        try cleaned(raw, field: "comment", maximumCharacters: maximumCommentCharacters)
    }

    public static func justification(_ raw: String?) throws(Refusal) -> String? {
        try cleaned(raw, field: "justification", maximumCharacters: maximumJustificationCharacters)
    }

    public static func ticket(_ raw: String?) throws(Refusal) -> String? {
        try cleaned(raw, field: "ticket", maximumCharacters: TicketCondition.maximumLength)
    }

    /// Longer text is refused whatever the role says: it would reach the token and the log.
    static func cleaned(_ raw: String?, field: String, maximumCharacters: Int) throws(Refusal) -> String? {
        guard let raw else { return nil }
        let text = trimmedFast(raw)
        if let bad = text.unicodeScalars.first(where: isRefused) {
            throw Refusal(message: "\(field) contains the control character U+\(hex(bad.value)); write it on one line of printable text")
        }
        if characterCount(text) > maximumCharacters {
            throw Refusal(message: "\(field) is too long: at most \(maximumCharacters) characters")
        }
        return text.isEmpty ? nil : text
    }

    private static func isRefused(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
