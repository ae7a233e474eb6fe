import Testing
@testable import TesseraCore

/// The hex decoding behind stored secret hashes and the audit chain's heads.
struct HexDecodingTests {
    @Test func decodesPairsOfDigitsInEitherCase() {
        #expect(ClientRegistry.bytes(fromHex: "00ff7Fa0") == [0x00, 0xFF, 0x7F, 0xA0])
        #expect(ClientRegistry.bytes(fromHex: "") == [])
    }

    /// Only digits: a sign (which `UInt8(_:radix:)` would take) or any other byte is no hex.
    @Test func refusesAnythingButWholePairsOfDigits() {
        for text in ["0", "abc", "+f", "-0", "0g", "  ", "é0"] {
            #expect(ClientRegistry.bytes(fromHex: text) == nil, "\(text)")
        }
    }
}
