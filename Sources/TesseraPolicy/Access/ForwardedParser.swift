/// A strict parser of one `Forwarded` header line (RFC 7239 §4), so that what a client wrote
/// can never be read as something a proxy wrote after it:
///
///     Forwarded = 1#forwarded-element               (comma-separated, optional whitespace)
///     forwarded-element = [ pair ] *( ";" [ pair ] )
///     pair = token "=" ( token / quoted-string )
///     quoted-string = DQUOTE *( qdtext / "\" ( HTAB / SP / VCHAR / obs-text ) ) DQUOTE   (RFC 9110 §5.6.4)
///
/// A line that breaks any rule (an unpaired quote, a stray character, a parameter given twice in
/// one element, RFC 7239 §4) is refused whole: nil, and the caller treats the address as unknown.
/// One leniency: an unquoted value may hold `:`, `[` and `]`, as proxies configured with
/// `for=$remote_addr` write `for=2001:db8::1` or `for=192.0.2.1:8080` without the quotes the RFC
/// asks for; none of these characters delimits anything, so allowing them cannot shift a boundary.
enum ForwardedParser {
    struct Element: Equatable {
        /// Parameter names in lowercase, values with quoting and escapes removed.
        var parameters: [String: String]

        /// The `for=` parameter as an address; nil when absent, `unknown`, obfuscated or garbage.
        var forAddress: IPAddress? {
            parameters["for"].flatMap { TrustedProxies.address(ofNode: Substring($0)) }
        }
    }

    static func elements(_ line: String) -> [Element]? {
        var reader = Reader(bytes: Array(line.utf8))
        var elements: [Element] = []
        while true {
            reader.skipWhitespace()
            // An empty list member (`a, , b`) is allowed by the list syntax and names no hop.
            if reader.peek == UInt8(ascii: ",") {
                reader.advance()
                continue
            }
            if reader.atEnd { return elements }
            guard let element = reader.element() else { return nil }
            elements.append(element)
            reader.skipWhitespace()
            if reader.atEnd { return elements }
            guard reader.peek == UInt8(ascii: ",") else { return nil }
            reader.advance()
        }
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        var atEnd: Bool { index >= bytes.count }
        var peek: UInt8? { atEnd ? nil : bytes[index] }
        mutating func advance() { index += 1 }

        mutating func skipWhitespace() {
            while let byte = peek, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { advance() }
        }

        /// Pairs up to the next `,` or the end; empty pairs between semicolons are allowed.
        mutating func element() -> Element? {
            var parameters: [String: String] = [:]
            while true {
                skipWhitespace()
                if let byte = peek, byte != UInt8(ascii: ";"), byte != UInt8(ascii: ",") {
                    guard let name = token()?.lowercased(), peek == UInt8(ascii: "=") else { return nil }
                    advance()
                    guard let value = value(), parameters[name] == nil else { return nil }
                    parameters[name] = value
                    skipWhitespace()
                }
                guard peek == UInt8(ascii: ";") else { return Element(parameters: parameters) }
                advance()
            }
        }

        mutating func token() -> String? {
            let start = index
            while let byte = peek, Self.isTokenCharacter(byte) { advance() }
            return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
        }

        mutating func value() -> String? {
            guard peek == UInt8(ascii: "\"") else {
                let start = index
                while let byte = peek, Self.isTokenCharacter(byte) || byte == UInt8(ascii: ":")
                    || byte == UInt8(ascii: "[") || byte == UInt8(ascii: "]") { advance() }
                return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
            }
            advance()
            var text: [UInt8] = []
            while let byte = peek {
                advance()
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: text, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let escaped = peek, Self.isQuotedPairCharacter(escaped) else { return nil }
                    advance()
                    text.append(escaped)
                default:
                    guard Self.isQuotedTextCharacter(byte) else { return nil }
                    text.append(byte)
                }
            }
            return nil  // the closing quote never came
        }

        /// RFC 9110 §5.6.2 tchar.
        static func isTokenCharacter(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
                true
            default:
                "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
        }

        /// qdtext: HTAB, SP, visible ASCII except `"` and `\`, and obs-text.
        static func isQuotedTextCharacter(_ byte: UInt8) -> Bool {
            byte == 0x09 || byte == 0x20 || byte == 0x21 || (0x23...0x5B).contains(byte) || (0x5D...0x7E).contains(byte) || byte >= 0x80
        }

        /// What may follow a backslash: HTAB, SP, VCHAR, obs-text.
        static func isQuotedPairCharacter(_ byte: UInt8) -> Bool {
            byte == 0x09 || byte == 0x20 || (0x21...0x7E).contains(byte) || byte >= 0x80
        }
    }
}
