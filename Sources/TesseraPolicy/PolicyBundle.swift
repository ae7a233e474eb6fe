import Foundation

/// Everything Tessera reads from the policies folder, validated as a whole. A bundle either
/// loads completely or not at all, so a broken file can never replace a good bundle.
public struct PolicyBundle: Sendable, Hashable {
    public static let clientsFileName = "clients.yaml"

    public var clients: [ClientDefinition]
    /// The roles of `roles/*.yaml`, in file and declaration order.
    public var roles: [RoleDefinition] = []
    /// `networks.yaml`: named networks and the trusted proxies.
    public var networkSettings = NetworkSettings()
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
    /// `networks.yaml` and `roles/` are optional too (no roles: every role request is denied).
    public static func load(directory: String) throws(PolicyError) -> PolicyBundle {
        let path = (directory as NSString).appendingPathComponent(clientsFileName)
        var bundle = PolicyBundle(clients: [], directory: directory)
        if FileManager.default.fileExists(atPath: path) {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw PolicyError(SourceLocation(file: path), field: nil, "cannot read the file: \(error.localizedDescription)")
            }
            bundle.clients = try parseClients(text, file: path)
        }
        (bundle.networkSettings, bundle.roles) = try loadAccess(directory: directory)
        return bundle
    }

    public func role(named name: String) -> RoleDefinition? {
        roles.first { $0.name == name }
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
