import Testing
import TesseraText

/// Identifiers compare as bytes: canonically equivalent spellings are different identifiers.
@Suite("exact identifier comparison")
struct ExactStringTests {
    /// Pairs `String ==` calls equal that are different bytes (security review, finding 3).
    static let equivalentPairs: [(String, String)] = [
        ("K8s-admins", "\u{212A}8s-admins"),           // KELVIN SIGN
        ("\u{00C9}quipe-SRE", "E\u{0301}quipe-SRE"),    // NFC and NFD
        ("Kim", "\u{212A}im"),
        ("scope;a", "scope\u{037E}a"),                  // GREEK QUESTION MARK is canonically ';'
        ("\u{00C5}ngstr\u{00F6}m", "\u{212B}ngstro\u{0308}m"),
    ]

    @Test(arguments: equivalentPairs)
    func canonicallyEquivalentTextIsNotTheSameIdentifier(_ pair: (String, String)) {
        let (ascii, lookalike) = pair
        #expect(ascii == lookalike, "the premise: Swift's == calls these equal")
        #expect(!ascii.isExactly(lookalike))
        #expect(ExactString(ascii) != ExactString(lookalike))
        #expect(!Set([ExactString(ascii)]).contains(ExactString(lookalike)))
        #expect(![ascii].containsExactly(lookalike))
        #expect(["x": 1, ascii: 2][exactly: lookalike] == nil)
        #expect(["x": 1, ascii: 2][exactly: ascii] == 2)
    }

    @Test func identicalBytesAreEqual() {
        #expect("tessera-cli".isExactly("tessera-" + "cli"))
        #expect(ExactString("\u{00C9}quipe") == ExactString("\u{00C9}quipe"))
        #expect(Set([ExactString("a"), ExactString("a")]).count == 1)
        #expect(["db-admin", "ops"].firstExactly(in: ["ops"]) == "ops")
        #expect("".isExactly(""))
        #expect(!"a".isExactly("ab"))
    }

    @Test func bridgedAndSubstringBackedTextCompareByBytes() {
        // Strings that are not native contiguous UTF-8 take the slow path and give the same answer.
        let sliced = String("xK8s-admins".dropFirst())
        #expect(sliced.isExactly("K8s-admins"))
        #expect(!sliced.isExactly("\u{212A}8s-admins"))
    }
}
