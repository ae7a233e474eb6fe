import Testing
import TesseraCrypto

/// Standard base64 with padding (`Base64`, for HTTP Basic credentials): RFC 4648 §10's test
/// vectors, and the strictness it shares with `Base64URL`.
@Suite("Base64")
struct Base64Tests {
    static let vectors = [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
                          ("foobar", "Zm9vYmFy")]

    @Test func decodesTheRFC4648Vectors() {
        for (plain, encoded) in Self.vectors {
            #expect(Base64.decode(utf8: encoded.utf8) == Array(plain.utf8), "\(encoded)")
        }
        // The two characters where the alphabets differ.
        #expect(Base64.decode(utf8: "+/8=".utf8) == [0xFB, 0xFF])
    }

    @Test(arguments: ["Zg", "Zg=", "Zm8", "Z===", "====", "Zg==Zg==", "Zm9v\n", " Zm9v", "Zh==", "Zm9=", "-_8=", "Zm=v"])
    func refusesWhatIsNotExactlyOneEncoding(_ text: String) {
        #expect(Base64.decode(utf8: text.utf8) == nil, "\(text)")
    }
}
