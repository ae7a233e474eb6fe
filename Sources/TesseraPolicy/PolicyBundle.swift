import Foundation

/// Everything Tessera reads from the policies folder, validated as a whole. A bundle either
/// loads completely or not at all, so a broken file can never replace a good bundle.
public struct PolicyBundle: Sendable, Hashable {
    /// Hidden files (an editor's swap file, the temporary file of an atomic write, which
    /// Foundation names `.dat.nosync...`) and backups (`name~`, `#name#`) are not part of the
    /// bundle: they are neither loaded nor watched.
    public static func isScratchFile(_ name: String) -> Bool {
        name.hasPrefix(".") || name.hasPrefix("#") || name.hasSuffix("~")
    }

    public static let clientsFileName = "clients.yaml"
    public static let upstreamsFileName = "upstreams.yaml"

    public var clients: [ClientDefinition]
    /// The roles of `roles/*.yaml`, in file and declaration order.
    public var roles: [RoleDefinition] = []
    /// `networks.yaml`: named networks and the trusted proxies.
    public var networkSettings = NetworkSettings()
    /// The identity providers whose tokens are accepted as subject tokens (`upstreams.yaml`).
    public var upstreams: [UpstreamDefinition] = []
    /// `keys.yaml`: how Tessera's own signing keys rotate; the defaults when the file is missing.
    public var signingKeys: SigningKeyPolicy
    /// `notifications.yaml`: sinks and routes; none (nothing is sent) when the file is missing.
    public var notifications = NotificationSettings()
    /// `schedules/*.yaml`: on-call schedules, escalation policies and who their participants are.
    public var onCall = OnCallConfiguration()
    /// The folder the bundle was read from; relative paths inside it resolve against it.
    public var directory: String

    public init(clients: [ClientDefinition], directory: String, signingKeys: SigningKeyPolicy = SigningKeyPolicy()) {
        self.clients = clients
        self.directory = directory
        self.signingKeys = signingKeys
    }

    public func client(id: String) -> ClientDefinition? {
        clients.first { $0.id == id }
    }

    public func role(named name: String) -> RoleDefinition? {
        roles.first { $0.name == name }
    }

    public func upstream(id: String) -> UpstreamDefinition? {
        upstreams.first { $0.id == id }
    }

    /// Reads and validates the bundle in `directory`. A missing folder or file is an empty part
    /// (no clients: every request is denied; no upstreams: no subject token is accepted; no
    /// roles: every role request is denied; no keys.yaml: the default signing keys, rotated only on
    /// demand; no notifications.yaml: no notifications); a present but broken file is an error.
    public static func load(directory: String) throws(PolicyError) -> PolicyBundle {
        var bundle = PolicyBundle(clients: [], directory: directory)
        if let file = try readFile(clientsFileName, in: directory) {
            bundle.clients = try parseClients(file.text, file: file.path)
        }
        if let file = try readFile(upstreamsFileName, in: directory) {
            bundle.upstreams = try parseUpstreams(file.text, file: file.path)
        }
        bundle.onCall = try loadSchedules(directory: directory)
        bundle.onCall.upstreamIDs = Set(bundle.upstreams.map(\.id) + [UpstreamDefinition.developmentID])
        (bundle.networkSettings, bundle.roles) = try loadAccess(directory: directory)
        try checkOnCallConditions(bundle)
        try checkDatedEligibility(bundle)
        if let file = try readFile(SigningKeyPolicy.fileName, in: directory) {
            bundle.signingKeys = try parseSigningKeys(file.text, file: file.path)
        }
        // After the roles: routes may only name roles the bundle declares.
        if let file = try readFile(NotificationSettings.fileName, in: directory) {
            bundle.notifications = try parseNotifications(file.text, file: file.path, directory: directory,
                                                          roles: Set(bundle.roles.map(\.name)))
        }
        return bundle
    }

    /// The text and path of a file of the bundle, or nil when it does not exist.
    static func readFile(_ name: String, in directory: String) throws(PolicyError) -> (text: String, path: String)? {
        let path = (directory as NSString).appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return (try readPolicyFile(path), path)
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

    /// Parses the text of an `upstreams.yaml`. Ids and issuers are unique: a token's `iss`
    /// picks exactly one upstream.
    public static func parseUpstreams(_ text: String, file: String) throws(PolicyError) -> [UpstreamDefinition] {
        guard let root = try parseYAMLDocument(text, file: file), !root.isNull else { return [] }
        let members = try root.mapping(allowed: ["upstreams"])
        guard let list = members["upstreams"], !list.isNull else { return [] }
        var upstreams: [UpstreamDefinition] = []
        var ids: [String: SourceLocation] = [:]
        var issuers: [String: SourceLocation] = [:]
        for element in try list.sequence() {
            let upstream = try UpstreamDefinition(field: element)
            if let first = ids[upstream.id] {
                throw element.error("upstream id \"\(upstream.id)\" is already declared at \(first)")
            }
            if let first = issuers[upstream.issuer] {
                throw element.error("issuer \"\(upstream.issuer)\" is already declared at \(first); each issuer belongs to one upstream")
            }
            ids[upstream.id] = upstream.location
            issuers[upstream.issuer] = upstream.location
            upstreams.append(upstream)
        }
        return upstreams
    }
}
