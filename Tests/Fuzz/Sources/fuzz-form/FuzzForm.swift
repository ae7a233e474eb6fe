import FuzzSupport

/// The form decoder of the token, introspection and revocation endpoints
/// (`FormParameters(urlEncoded:)`, compiled here from TesseraCore's own source files; see
/// Package.swift), checked against a reference model written here:
/// - each component decodes to exactly the bytes `+` -> space and `%XX` -> byte give, and only
///   when those bytes are UTF-8: a decoded string is never repaired (no U+FFFD stands in for
///   bytes that were not UTF-8) and never differs from what was sent;
/// - a body decodes exactly when all its components do and no parameter other than
///   `resource` and `audience` repeats;
/// - every parameter reads back as sent, in order (`subscript` the first value, `all` the
///   non-empty ones).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzForm(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let body = fuzzInput(data, size)

    // One component on its own.
    let expected = Reference.decode(body[...])
    do {
        let decoded = try FormParameters.decode(body)
        fuzzCheck(expected != nil, "decode accepts a component that is not UTF-8 after decoding, or malformed")
        fuzzCheck(Array(decoded.utf8) == expected, "decode gives \(Array(decoded.utf8)), the bytes are \(expected ?? [])")
    } catch {
        fuzzCheck(expected == nil, "decode refuses a well-formed UTF-8 component: \(error)")
    }

    // The whole body.
    let model = Reference.parse(body)
    let parameters: FormParameters
    do {
        parameters = try FormParameters(urlEncoded: body)
    } catch {
        fuzzCheck(model == nil, "the body is refused although every component decodes and nothing repeats: \(error)")
        return 0
    }
    guard let model else {
        fuzzCheck(false, "the body is accepted although a component does not decode or a parameter repeats")
        return 0
    }
    for (name, values) in model {
        let first = values.first.flatMap { $0.isEmpty ? nil : $0 }
        fuzzCheck(parameters[name].map { Array($0.utf8) } == first.map { Array($0.utf8) }, "parameter \(name) reads back as \(String(describing: parameters[name]))")
        let all = parameters.all(name)
        let nonEmpty = values.filter { !$0.isEmpty }
        fuzzCheck(all.count == nonEmpty.count && zip(all, nonEmpty).allSatisfy { Array($0.utf8) == Array($1.utf8) },
                  "parameter \(name) reads back as \(all), sent as \(nonEmpty)")
        fuzzCheck(parameters.contains(name) == (first != nil), "contains(\(name)) is wrong")
    }
    return 0
}

/// The decoding rules of `application/x-www-form-urlencoded`, written out independently.
enum Reference {
    static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The bytes a component stands for, or nil when it is malformed or they are not UTF-8.
    static func decode(_ component: ArraySlice<UInt8>) -> [UInt8]? {
        let input = Array(component)
        var output: [UInt8] = []
        var index = 0
        while index < input.count {
            switch input[index] {
            case UInt8(ascii: "+"):
                output.append(UInt8(ascii: " "))
                index += 1
            case UInt8(ascii: "%"):
                guard index + 2 < input.count, let high = hex(input[index + 1]), let low = hex(input[index + 2]) else { return nil }
                output.append(high * 16 + low)
                index += 3
            default:
                output.append(input[index])
                index += 1
            }
        }
        var iterator = output.makeIterator()
        var utf8 = UTF8()
        while true {
            switch utf8.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return output
            case .error: return nil
            }
        }
    }

    /// The parameters of a body by name, in order, or nil when the body is refused. Names are
    /// compared as Swift strings compare (canonical equivalence), as the decoder's dictionary does.
    static func parse(_ body: [UInt8]) -> [String: [String]]? {
        var parameters: [String: [String]] = [:]
        for field in body.split(separator: UInt8(ascii: "&")) {
            let separator = field.firstIndex(of: UInt8(ascii: "="))
            let nameBytes = separator.map { field[field.startIndex..<$0] } ?? field
            let valueBytes = separator.map { field[field.index(after: $0)...] } ?? []
            guard let name = decode(nameBytes).map({ String(decoding: $0, as: UTF8.self) }),
                  let value = decode(valueBytes).map({ String(decoding: $0, as: UTF8.self) })
            else { return nil }
            if parameters[name] != nil, name != "resource", name != "audience" { return nil }
            parameters[name, default: []].append(value)
        }
        return parameters
    }
}
