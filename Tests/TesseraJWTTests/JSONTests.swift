import Foundation
import Testing
@testable import TesseraJWT

private func parse(_ text: String) throws -> JSONValue {
    try JSONParser.parse(Array(text.utf8))
}

private func parses(_ text: String) -> Bool {
    (try? JSONParser.parse(Array(text.utf8))) != nil
}

private func nested(_ depth: Int, open: String = "[", close: String = "]", inner: String = "") -> String {
    String(repeating: open, count: depth) + inner + String(repeating: close, count: depth)
}

@Suite("JSONParser")
struct JSONParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try parse(#" {"s":"x","n":-1.5e2,"i":0,"t":true,"f":false,"z":null,"a":[1,[],{}],"o":{"k":"v"}} "#)
        #expect(value == .object([
            "s": "x", "n": .number(-150), "i": 0, "t": true, "f": false, "z": .null,
            "a": [1, .array([]), .object([:])], "o": ["k": "v"],
        ]))
    }

    @Test func decodesEveryEscape() throws {
        #expect(try parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{8}\u{C}\n\r\t"))
        #expect(try parse(#""\u0041\u00e9\u00E9\u4e2d\u0000""#) == .string("Aéé中\u{0}"))
        #expect(try parse(#""plain é 中 😀""#) == .string("plain é 中 😀"))
        #expect(try parse(#""mixed \u0041 and é""#) == .string("mixed A and é"))
    }

    @Test func joinsSurrogatePairs() throws {
        #expect(try parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try parse(#""\uD83D\uDE00""#) == .string("😀"))
        #expect(try parse(#""a\uD834\uDD1Eb""#) == .string("a𝄞b"))
        #expect(try parse(#""\udbff\udfff""#) == .string("\u{10FFFF}"))
    }

    @Test("rejects unpaired surrogates", arguments: [
        #""\ud83d""#, #""\ud83dx""#, #""\ud83d\n""#, #""\ud83d\ud83d""#, #""\ude00""#, #""\ude00\ud83d""#,
        #""\udfff""#, #""\ud800\u0041""#, #""\ud83d\u""#,
    ])
    func rejectsUnpairedSurrogates(_ text: String) {
        #expect(!parses(text))
    }

    @Test("rejects invalid strings", arguments: [
        #""\x41""#, #""\u12""#, #""\u12G4""#, #""\U0041""#, #""\'""#, "\"unterminated", "\"\\", "\"tab\there\"",
        "\"new\nline\"", "\"nul\u{0}\"", "'single'",
    ])
    func rejectsInvalidStrings(_ text: String) {
        #expect(!parses(text))
    }

    @Test func rejectsInvalidUTF8() {
        let invalid: [[UInt8]] = [
            [0x22, 0xFF, 0x22],              // never valid in UTF-8
            [0x22, 0xC0, 0xAF, 0x22],        // overlong "/"
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // a surrogate encoded directly
            [0x22, 0xE4, 0xB8, 0x22],        // truncated sequence
            [0x22, 0x5C, 0x6E, 0xFF, 0x22],  // invalid after an escape (slow path)
        ]
        for bytes in invalid {
            #expect((try? JSONParser.parse(bytes)) == nil, "\(bytes)")
        }
    }

    @Test func enforcesTheDepthLimit() throws {
        let limit = JSONParser.maximumDepth
        #expect(parses(nested(limit)))
        #expect(!parses(nested(limit + 1)))
        #expect(parses(nested(limit - 1, inner: "1")))
        #expect(!parses(nested(limit, inner: "1")))
        #expect(!parses(nested(limit + 1, open: #"{"a":"#, close: "}", inner: "1")))
        // Far beyond the limit fails fast instead of exhausting the stack.
        #expect(!parses(nested(1_000_000)))
        #expect(!parses(String(repeating: "[", count: 1_000_000)))
    }

    @Test("rejects trailing data", arguments: ["{} {}", "{}x", "1 2", "{},", "[]]", "\"a\"\"b\"", "true false", "nullx", "{}\u{0}"])
    func rejectsTrailingData(_ text: String) {
        #expect(!parses(text))
    }

    @Test func allowsSurroundingWhitespace() throws {
        #expect(try parse(" \t\r\n{}\n ") == .object([:]))
    }

    @Test("rejects invalid numbers and literals", arguments: [
        "01", "-", "1.", ".5", "1e", "1e+", "+1", "0x10", "1e400", "-1e400", "NaN", "Infinity", "-Infinity",
        "tru", "True", "nul", "nulll", "fals", "", " ", "--1", "1.e5", "١",
    ])
    func rejectsInvalidNumbersAndLiterals(_ text: String) {
        #expect(!parses(text))
    }

    @Test func parsesNumbers() throws {
        #expect(try parse("-0") == .number(0))
        #expect(try parse("1.5E+3") == .number(1500))
        #expect(try parse("2e-3") == .number(0.002))
        #expect(try parse("1750000000") == .number(1_750_000_000))
        #expect(try parse("1e308") == .number(1e308))
    }

    @Test("rejects malformed containers", arguments: [
        "{", "[", "{\"a\"}", "{\"a\":}", "{\"a\" 1}", "{a:1}", "{\"a\":1,}", "[1,]", "[,1]", "{,}", "[1 2]", "{\"a\":1 \"b\":2}",
        "{1:2}", "}", "]",
    ])
    func rejectsMalformedContainers(_ text: String) {
        #expect(!parses(text))
    }

    @Test("rejects duplicate member names", arguments: [
        #"{"a":1,"a":1}"#, #"{"a":1,"a":2}"#, #"{"a":1,"\u0061":2}"#, #"{"o":{"x":1,"x":2}}"#, #"[{"k":[],"k":null}]"#,
        #"{"😀":1,"\ud83d\ude00":2}"#,
    ])
    func rejectsDuplicateMemberNames(_ text: String) {
        #expect(!parses(text))
    }

    @Test func keepsMemberNamesThatDifferOnlyInCase() throws {
        #expect(try parse(#"{"a":1,"A":2}"#) == .object(["a": 1, "A": 2]))
    }

    @Test func parseObjectRejectsOtherValues() {
        for text in ["[]", "1", "\"s\"", "null", "true"] {
            #expect((try? JSONParser.parseObject(Array(text.utf8))) == nil, "\(text)")
        }
    }
}

@Suite("JSONWriter")
struct JSONWriterTests {
    private func written(_ value: JSONValue) -> String {
        var writer = JSONWriter()
        writer.value(value)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test func writesCompactSortedJSON() {
        #expect(written(["b": "x", "a": [1, true, .null, .number(-2.5)]]) == #"{"a":[1,true,null,-2.5],"b":"x"}"#)
        #expect(written(.object([:])) == "{}")
        #expect(written(.array([])) == "[]")
        #expect(written([[], .object([:]), [[]]]) == "[[],{},[[]]]")
    }

    @Test func escapesStrings() {
        #expect(written("q\"b\\n\nr\rt\tnul\u{0}us\u{1F}del\u{7F}") == #""q\"b\\n\nr\rt\tnul\u0000us\u001fdel\#u{7F}""#)
        #expect(written("é😀/") == "\"é😀/\"")
    }

    @Test func writesWithTheBuilderMethods() {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("n"); writer.integer(-42)
        writer.key("max"); writer.integer(Int64.max)
        writer.key("s"); writer.string("v")
        writer.key("o"); writer.beginObject(); writer.key("k"); writer.value(.null); writer.endObject()
        writer.key("a"); writer.value([1, 2])
        writer.endObject()
        #expect(String(decoding: writer.bytes, as: UTF8.self) == #"{"n":-42,"max":9223372036854775807,"s":"v","o":{"k":null},"a":[1,2]}"#)
    }

    @Test func writesNumbers() {
        #expect(written(.number(1_750_000_000)) == "1750000000")
        #expect(written(.number(-0.0)) == "0")
        #expect(written(.number(0.1)) == "0.1")
        // From 2^53 on, integers are no longer exact in a Double; written as a Double, still valid JSON.
        let large = written(.number(9_007_199_254_740_992))
        #expect(large != "9007199254740992")
        #expect((try? JSONParser.parse(Array(large.utf8))) == .number(9_007_199_254_740_992))
    }

    static let samples: [JSONValue] = [
        .null, true, false, 0, -1, .number(0.1), .number(-2.5e-8), .number(1e300), .number(123_456_789_012),
        .number(9_007_199_254_740_992), .number(-9_007_199_254_740_991),
        "", "plain", "quote\" backslash\\ slash/", "controls \u{0}\u{1}\u{8}\u{C}\n\r\t\u{1F}", "unicode é 中 😀 \u{10FFFF} \u{2028}",
        [], ["a", 1, .null, [true, ["deep": "x"]]],
        [
            "iss": "https://issuer.example.com", "aud": ["a", "b"], "exp": 1_750_000_600, "nested": ["x": ["y": ["z": .null]]],
            "": "empty name", "é": "unicode name", "quote\"name": 1,
        ],
    ]

    @Test("writer output parses back to the same value", arguments: samples)
    func writerOutputParsesBackToTheSameValue(_ value: JSONValue) throws {
        var writer = JSONWriter()
        writer.value(value)
        #expect(try JSONParser.parse(writer.bytes) == value)
        // And Foundation agrees that it is JSON.
        #expect(throws: Never.self) {
            _ = try JSONSerialization.jsonObject(with: Data(writer.bytes), options: [.fragmentsAllowed])
        }
    }

    @Test func writingIsDeterministic() {
        let value: JSONValue = ["z": 1, "a": 2, "m": ["y": 1, "b": 2]]
        #expect(written(value) == written(value))
        #expect(written(value) == #"{"a":2,"m":{"b":2,"y":1},"z":1}"#)
    }

    /// Found by the JSON fuzzer: `String`'s `<` orders neither of `"e\u{301}"` and `"\u{E9}x"`
    /// before the other, so sorting with it left them in the dictionary's (hash) order and equal
    /// objects could serialise differently. Dictionaries of every capacity between them put the
    /// two names in both orders; each must write the names in the order of their bytes.
    @Test func ordersMemberNamesByTheirBytesWhateverTheDictionary() {
        let members: [(String, JSONValue)] = [("e\u{301}", 1), ("\u{E9}x", 2), ("a", 3)]
        let expected = "{\"a\":3,\"e\u{301}\":1,\"\u{E9}x\":2}"
        for capacity in 0..<64 {
            for order in [members, members.reversed()] {
                var object = [String: JSONValue](minimumCapacity: capacity)
                for (name, value) in order { object[name] = value }
                #expect(Array(written(.object(object)).utf8) == Array(expected.utf8), "capacity \(capacity)")
            }
        }
        #expect(JSONWriter.sortedNames(["b", "a", "\u{E9}x", "e\u{301}"]).map { Array($0.utf8) }
            == [[0x61], [0x62], [0x65, 0xCC, 0x81], [0xC3, 0xA9, 0x78]])
    }
}

@Suite("Hardening")
struct HardeningTests {
    @Test func writesNonFiniteNumbersAsNull() throws {
        var writer = JSONWriter()
        writer.value(.array([.number(.nan), .number(.infinity), .number(-.infinity), 1]))
        #expect(String(decoding: writer.bytes, as: UTF8.self) == "[null,null,null,1]")
        #expect(try JSONParser.parse(writer.bytes) == .array([.null, .null, .null, 1]))
    }

    @Test func errorMessagesShowAttackerTextBoundedAndEscaped() {
        let hostile = "evil\n2026-01-01 info forged log line \"" + String(repeating: "x", count: 10_000)
        let shown = displayed(hostile)
        #expect(!shown.contains("\n"))
        #expect(shown.count < 90)
        #expect(shown.hasSuffix("..."))
        #expect(displayed("kid-1") == "kid-1")
    }
}
