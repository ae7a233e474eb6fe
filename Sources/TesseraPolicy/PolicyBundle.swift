import Foundation

/// Everything Tessera reads from the policies folder, validated as a whole. A bundle either
/// loads completely or not at all, so a broken file can never replace a good bundle.
public struct PolicyBundle: Sendable, Hashable {
    public static let clientsFileName = "clients.yaml"

    public var clients: [ClientDefinition]
    /// The folder the bundle was read from; relative paths inside it resolve against it.
    public var directory: String

    public init(clients: [ClientDefinition], directory: String) {
        self.clients = clients
        self.directory = directory
    }

    public func client(id: String) -> ClientDefinition? {
        clients.first { $0.id == id }
    }

    /// Reads and validates the bundle in `directory`. A missing folder or `clients.yaml` is an
    /// empty bundle (no clients: every request is denied); a present but broken file is an error.
    public static func load(directory: String) throws(PolicyError) -> PolicyBundle {
        let path = (directory as NSString).appendingPathComponent(clientsFileName)
        guard FileManager.default.fileExists(atPath: path) else {
            return PolicyBundle(clients: [], directory: directory)
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw PolicyError(SourceLocation(file: path), field: nil, "cannot read the file: \(error.localizedDescription)")
        }
        return PolicyBundle(clients: try parseClients(text, file: path), directory: directory)
    }

    /// Parses the text of a `clients.yaml`.
    public static func parseClients(_ text: String, file: String) throws(PolicyError) -> [ClientDefinition] {
        guard let root = try parseYAMLDocument(text, file: file), !root.isNull else { return [] }
        let members = try root.mapping(allowed: ["clients"])
        guard let list = members["clients"], !list.isNull else { return [] }
        var clients: [ClientDefinition] = []
        var seen: [String: SourceLocation] = [:]
        for element in try list.sequence() {
            let client = try ClientDefinition(field: element)
            if let first = seen[client.id] {
                throw element.error("client id \"\(client.id)\" is already declared at \(first)")
            }
            seen[client.id] = client.location
            clients.append(client)
        }
        return clients
    }
}
