import Foundation

/// Adds a client to `clients.yaml` as text, so the admin's comments and layout survive (a YAML
/// round trip would drop them). The result is parsed and validated before anything is written,
/// and written atomically: a failed edit leaves the file as it was.
public struct ClientsFileEditor {
    public let path: String

    public init(policiesDirectory: String) {
        self.path = (policiesDirectory as NSString).appendingPathComponent(PolicyBundle.clientsFileName)
    }

    /// Appends `client` and returns the YAML block that was added.
    @discardableResult
    public func append(_ client: ClientDefinition) throws(PolicyError) -> String {
        let existing = FileManager.default.fileExists(atPath: path) ? try read() : ""
        let current = try PolicyBundle.parseClients(existing, file: path)
        if let clash = current.first(where: { $0.id == client.id }) {
            throw PolicyError(clash.location, field: nil, "client \"\(client.id)\" already exists")
        }
        let block = Self.render(client)
        let updated = Self.insert(block, into: existing)
        let parsed = try PolicyBundle.parseClients(updated, file: path)
        guard parsed.count == current.count + 1, parsed.contains(where: { $0.id == client.id }) else {
            throw PolicyError(SourceLocation(file: path), field: nil, "could not add the client without restructuring the file; add this entry under clients: by hand:\n\(block)")
        }
        try write(updated)
        return block
    }

    private func read() throws(PolicyError) -> String {
        try PolicyBundle.readPolicyFile(path)
    }

    private func write(_ text: String) throws(PolicyError) {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
            // rename(2) replaces the file in one step: readers see the old or the new text.
            guard rename(temporary, path) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: String(cString: strerror(errno))])
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw PolicyError(SourceLocation(file: path), field: nil, "cannot write the file: \(error.localizedDescription)")
        }
    }

    /// Puts the list item at the end of the file, under a `clients:` key created if needed.
    static func insert(_ block: String, into text: String) -> String {
        var lines = text.isEmpty ? [] : text.components(separatedBy: "\n")
        while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
        if let index = lines.firstIndex(where: { $0.hasPrefix("clients:") }) {
            let rest = lines[index].dropFirst("clients:".count).trimmingCharacters(in: .whitespaces)
            if rest == "[]" || rest == "~" || rest == "null" { lines[index] = "clients:" }
        } else {
            lines.append("clients:")
        }
        // Match the indentation of the items already there, if any.
        let clientsIndex = lines.firstIndex { $0.hasPrefix("clients:") } ?? 0
        let itemIndent = lines[clientsIndex...].first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("- ") }
            .map { String($0.prefix { $0 == " " }) } ?? "  "
        let shifted = block.components(separatedBy: "\n").map { line in
            line.hasPrefix("  ") ? itemIndent + line.dropFirst(2) : line
        }
        return (lines + shifted).joined(separator: "\n") + "\n"
    }

    /// The YAML of one client entry, every string double-quoted and escaped.
    static func render(_ client: ClientDefinition) -> String {
        var lines = ["  - id: \(quoted(client.id))"]
        if let description = client.description { lines.append("    description: \(quoted(description))") }
        if client.authMethod == .none {
            lines.append("    public: true")
        } else {
            lines.append("    auth_method: \(client.authMethod.rawValue)")
        }
        if let secret = client.secretSHA256 { lines.append("    secret_sha256: \(quoted(secret))") }
        if case .file(let file, _) = client.keys { lines.append("    jwks_file: \(quoted(file))") }
        lines.append("    scopes: [\(client.scopes.map(quoted).joined(separator: ", "))]")
        if !client.audiences.isEmpty { lines.append("    audiences: [\(client.audiences.map(quoted).joined(separator: ", "))]") }
        lines.append("    token_lifetime: \(client.tokenLifetimeSeconds)s")
        if client.canIntrospect { lines.append("    can_introspect: true") }
        if client.tokenTypeHeader != "at+jwt" { lines.append("    token_type_header: \(quoted(client.tokenTypeHeader))") }
        if let algorithm = client.signingAlgorithm { lines.append("    signing_alg: \(quoted(algorithm))") }
        return lines.joined(separator: "\n")
    }

    static func quoted(_ value: String) -> String {
        var escaped = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            default:
                if scalar.value < 0x20 { escaped += String(format: "\\x%02X", scalar.value) } else { escaped.unicodeScalars.append(scalar) }
            }
        }
        return "\"\(escaped)\""
    }
}
