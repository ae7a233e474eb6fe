import FuzzSupport
import TesseraJWT

/// The strict JSON parser (TesseraJWT's `JSONParser`) on arbitrary bytes. Beyond not crashing:
/// - whatever it accepts, `JSONWriter` serialises, and the parser accepts that again and reads
///   the same value back, byte for byte in every string (not merely `String ==`, which
///   compares canonical equivalence);
/// - serialising the re-read value gives the same bytes again (the writer's output is stable);
/// - `parseObject` accepts exactly the inputs `parse` reads as an object.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    let value: JSONValue
    do {
        value = try JSONParser.parse(bytes)
    } catch {
        fuzzCheck((try? JSONParser.parseObject(bytes)) == nil, "parseObject accepts what parse refuses")
        return 0
    }
    let object = try? JSONParser.parseObject(bytes)
    fuzzCheck((object != nil) == (value.objectValue != nil), "parseObject disagrees with parse about \(value)")

    var writer = JSONWriter()
    writer.value(value)
    let written = writer.bytes
    let reread: JSONValue
    do {
        reread = try JSONParser.parse(written)
    } catch {
        fuzzCheck(false, "the parser refuses the writer's output \(String(decoding: written, as: UTF8.self)): \(error)")
        return 0
    }
    fuzzCheck(identical(value, reread), "the value changed through write and re-read: \(value) became \(reread)")
    var again = JSONWriter()
    again.value(reread)
    fuzzCheck(again.bytes == written, "writing the re-read value gives other bytes")
    return 0
}

/// Structural equality with strings compared as UTF-8 bytes.
func identical(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
    switch (lhs, rhs) {
    case (.null, .null): return true
    case (.bool(let a), .bool(let b)): return a == b
    case (.number(let a), .number(let b)): return a == b
    case (.string(let a), .string(let b)): return a.utf8.elementsEqual(b.utf8)
    case (.array(let a), .array(let b)):
        return a.count == b.count && zip(a, b).allSatisfy { identical($0, $1) }
    case (.object(let a), .object(let b)):
        // In byte order: `String`'s `<` does not order every pair of names (JSONWriter.sortedNames).
        let aKeys = JSONWriter.sortedNames(a.keys)
        let bKeys = JSONWriter.sortedNames(b.keys)
        guard aKeys.count == bKeys.count, zip(aKeys, bKeys).allSatisfy({ $0.utf8.elementsEqual($1.utf8) }) else { return false }
        return aKeys.allSatisfy { identical(a[$0]!, b[$0]!) }
    default: return false
    }
}
