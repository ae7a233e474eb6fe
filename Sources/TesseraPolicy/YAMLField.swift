import Foundation
import Yams

/// A YAML node together with where it came from, so every conversion error can name the file,
/// line and field. Policy files are read node by node (not through `Decodable`) to keep that
/// position and to reject unknown keys, which are almost always typos.
struct YAMLField {
    let node: Node
    let path: String
    let file: String

    var location: SourceLocation {
        SourceLocation(file: file, line: node.mark?.line, column: node.mark?.column)
    }

    func error(_ message: String) -> PolicyError {
        PolicyError(location, field: path.isEmpty ? nil : path, message)
    }

    /// The members of a mapping, refusing keys outside `allowed`.
    func mapping(allowed: Set<String>) throws(PolicyError) -> [String: YAMLField] {
        guard case .mapping(let mapping) = node else { throw error("expected a mapping") }
        var members: [String: YAMLField] = [:]
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else { throw error("mapping keys must be plain strings") }
            let name = scalar.string
            let childPath = path.isEmpty ? name : "\(path).\(name)"
            guard allowed.contains(name) else {
                let known = allowed.sorted().joined(separator: ", ")
                throw YAMLField(node: key, path: childPath, file: file).error("unknown field; expected one of: \(known)")
            }
            members[name] = YAMLField(node: value, path: childPath, file: file)
        }
        return members
    }

    /// The members of a mapping whose keys are data (claim names, network names), in file order.
    func entries() throws(PolicyError) -> [(key: String, value: YAMLField)] {
        guard case .mapping(let mapping) = node else { throw error("expected a mapping") }
        var entries: [(key: String, value: YAMLField)] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else { throw error("mapping keys must be plain strings") }
            let childPath = path.isEmpty ? scalar.string : "\(path).\(scalar.string)"
            entries.append((scalar.string, YAMLField(node: value, path: childPath, file: file)))
        }
        return entries
    }

    /// A whole number, written plainly (`3`).
    func integer() throws(PolicyError) -> Int {
        guard case .scalar(let scalar) = node, scalar.style == .plain, let value = Int(scalar.string) else {
            throw error("expected a whole number")
        }
        return value
    }

    var isMapping: Bool {
        if case .mapping = node { return true }
        return false
    }

    var isScalar: Bool {
        if case .scalar = node { return true }
        return false
    }

    /// A mapping of strings to strings, any keys allowed (e.g. the members of a JWK).
    func stringMap() throws(PolicyError) -> [String: String] {
        guard case .mapping(let mapping) = node else { throw error("expected a mapping") }
        var result: [String: String] = [:]
        for (key, value) in mapping {
            let name = try YAMLField(node: key, path: path, file: file).string()
            result[name] = try YAMLField(node: value, path: "\(path).\(name)", file: file).string()
        }
        return result
    }

    func sequence() throws(PolicyError) -> [YAMLField] {
        guard case .sequence(let sequence) = node else { throw error("expected a list") }
        return sequence.enumerated().map { index, element in
            YAMLField(node: element, path: "\(path)[\(index)]", file: file)
        }
    }

    /// `~`, `null` or an empty value: treated as absent, never as the string "null".
    var isNull: Bool {
        if case .scalar(let scalar) = node {
            return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
        }
        return false
    }

    func string() throws(PolicyError) -> String {
        guard case .scalar(let scalar) = node, !isNull else { throw error("expected a string") }
        return scalar.string
    }

    func nonEmptyString() throws(PolicyError) -> String {
        let value = try string()
        guard !value.isEmpty else { throw error("must not be empty") }
        return value
    }

    func bool() throws(PolicyError) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { throw error("expected true or false") }
        switch scalar.string.lowercased() {
        case "true", "yes": return true
        case "false", "no": return false
        default: throw error("expected true or false")
        }
    }

    /// A list of strings; a single string is accepted as a list of one.
    func stringList() throws(PolicyError) -> [String] {
        if isScalar { return [try nonEmptyString()] }
        var values: [String] = []
        for element in try sequence() { values.append(try element.nonEmptyString()) }
        return values
    }

    /// A duration: an integer number of seconds, or a number with a unit `s`, `m`, `h` or `d`
    /// (`300`, `90s`, `5m`, `1h`, `7d`).
    func durationSeconds() throws(PolicyError) -> Int {
        let text = try string()
        guard let seconds = DurationText.seconds(text) else {
            throw error("expected a duration such as 300, 90s, 5m, 1h or 7d, got \"\(text)\"")
        }
        return seconds
    }
}

/// Durations as admins write them: whole seconds, or a number with a unit `s`, `m`, `h` or `d`
/// (days, for key rotation periods in keys.yaml).
public enum DurationText {
    public static func seconds(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var multiplier = 1
        var digits = Substring(trimmed)
        if let last = trimmed.last, let unit = units[last] {
            multiplier = unit
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(digits),
              value <= Int(Int32.max) / multiplier
        else { return nil }
        return value * multiplier
    }

    /// Seconds as a person reads them: `45s`, `15m`, `1h`, `1h30m`, `2m5s`.
    public static func format(_ seconds: Int) -> String {
        if seconds <= 0 { return "\(seconds)s" }
        let hours = seconds / 3600
        let minutes = seconds % 3600 / 60
        let rest = seconds % 60
        var text = ""
        if hours > 0 { text += "\(hours)h" }
        if minutes > 0 { text += "\(minutes)m" }
        if rest > 0 { text += "\(rest)s" }
        return text
    }
}

/// At most this many nodes once aliases are expanded. Yams shares an aliased node rather than
/// copying it, so `a: &a [x, x]`, `b: &b [*a, *a]`... stays small as text and in memory, but
/// everything that walks the tree (and the values built from it) sees 2^n nodes: without a
/// bound, a few hundred bytes sent to `POST /admin/explain` would occupy the server for good.
/// A policy file of a thousand roles has some tens of thousands of nodes.
let maximumExpandedYAMLNodes = 200_000

/// Parses YAML text into its root node, turning syntax errors into `PolicyError`s with positions.
func parseYAMLDocument(_ text: String, file: String) throws(PolicyError) -> YAMLField? {
    do {
        guard let node = try Yams.compose(yaml: text) else { return nil }
        var budget = maximumExpandedYAMLNodes
        guard fitsExpanded(node, budget: &budget) else {
            throw PolicyError(SourceLocation(file: file), field: nil,
                              "the YAML expands to more than \(maximumExpandedYAMLNodes) nodes (through anchors and aliases); write it out plainly")
        }
        return YAMLField(node: node, path: "", file: file)
    } catch let error as PolicyError {
        throw error
    } catch let error as YamlError {
        throw PolicyError(location(of: error, file: file), field: nil, "invalid YAML: \(summary(of: error))")
    } catch {
        throw PolicyError(SourceLocation(file: file), field: nil, "invalid YAML: \(error)")
    }
}

/// Walks `node` as its readers will, aliases expanded, and stops as soon as `budget` runs out.
private func fitsExpanded(_ node: Node, budget: inout Int) -> Bool {
    budget -= 1
    guard budget >= 0 else { return false }
    switch node {
    case .scalar, .alias: return true
    case .sequence(let sequence): return sequence.allSatisfy { fitsExpanded($0, budget: &budget) }
    case .mapping(let mapping): return mapping.allSatisfy { fitsExpanded($0.key, budget: &budget) && fitsExpanded($0.value, budget: &budget) }
    }
}

private func location(of error: YamlError, file: String) -> SourceLocation {
    switch error {
    case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
        return SourceLocation(file: file, line: mark.line, column: mark.column)
    case .duplicatedKeysInMapping(_, let context):
        return SourceLocation(file: file, line: context.mark.line, column: context.mark.column)
    default:
        return SourceLocation(file: file)
    }
}

private func summary(of error: YamlError) -> String {
    switch error {
    case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _), .composer(let context, let problem, _, _):
        if let context { return "\(problem) \(context.text)" }
        return problem
    case .duplicatedKeysInMapping(let duplicates, _):
        return "duplicate keys: \(duplicates.joined(separator: ", "))"
    default:
        return "\(error)"
    }
}

/// Finds YAML alias tokens (`*name`) in text, without parsing it: outside quoted strings and
/// comments, a `*` that starts a token (at the start of a line, or after a space, `[`, `{`, `,`,
/// `-`, `?` or `:`) and is followed by a name character. Quotes and comments count only where
/// YAML starts them (at a token start), and escapes in double quotes are followed, so no text
/// can make this scan and the YAML parser disagree about what is quoted. Conservative on
/// purpose: `fix *all* things` in a plain scalar is reported too (quoting it avoids that).
enum YAMLAliases {
    /// The 1-based line of the first alias, or nil when there is none.
    static func firstLine(in text: String) -> Int? {
        let bytes = Array(text.utf8)
        let tokenStart = Set(" \t\r\n[{,-?:".utf8)
        var line = 1
        var quote: UInt8?
        var escaped = false
        var inComment = false
        var previous = UInt8(ascii: "\n")
        var skipNext = false
        for (index, byte) in bytes.enumerated() {
            defer { previous = byte }
            if byte == UInt8(ascii: "\n") { line += 1 }
            if skipNext {
                skipNext = false
                continue
            }
            if inComment {
                if byte == UInt8(ascii: "\n") { inComment = false }
                continue
            }
            if let open = quote {
                if escaped {
                    escaped = false
                } else if open == UInt8(ascii: "\""), byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if open == UInt8(ascii: "'"), byte == open, index + 1 < bytes.count, bytes[index + 1] == open {
                    skipNext = true  // '' is a quote inside single quotes
                } else if byte == open {
                    quote = nil
                }
                continue
            }
            guard tokenStart.contains(previous) else { continue }
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                quote = byte
            case UInt8(ascii: "#"):
                inComment = true
            case UInt8(ascii: "*"):
                if index + 1 < bytes.count, !" \t\r\n,[]{}".utf8.contains(bytes[index + 1]) { return line }
            default:
                break
            }
        }
        return nil
    }
}
