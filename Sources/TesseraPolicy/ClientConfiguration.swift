import Foundation

/// The engineer's CLI settings, `$XDG_CONFIG_HOME/tessera/config.yaml` (default
/// `~/.config/tessera/config.yaml`): named servers, each with its URL (the issuer; endpoints
/// come from its discovery document), the client id the CLI exchanges as, and where the
/// subject token (the engineer's identity token) comes from. Parsed here because YAML lives in
/// this target; the CLI resolves flags and `TESSERA_*` variables on top.
public struct ClientConfiguration: Sendable, Hashable {
    public static let defaultClientID = "tessera-cli"

    public struct Server: Sendable, Hashable {
        public var name: String
        public var url: String
        public var clientID: String?
        public var subjectToken: SubjectTokenSetting?
        public var location: SourceLocation
    }

    /// Where a subject token comes from.
    public enum SubjectTokenSetting: Sendable, Hashable {
        /// A shell command whose standard output is the token (`gcloud auth print-identity-token`).
        case command(String)
        /// A file holding the token.
        case file(String)
        /// An environment variable holding the token.
        case environment(String)
    }

    public var defaultServer: String?
    public var servers: [Server]

    public init(defaultServer: String? = nil, servers: [Server] = []) {
        self.defaultServer = defaultServer
        self.servers = servers
    }

    public func server(named name: String) -> Server? { servers.first { $0.name == name } }

    public static func parse(_ text: String, file: String) throws(PolicyError) -> ClientConfiguration {
        guard let root = try parseYAMLDocument(text, file: file), !root.isNull else { return ClientConfiguration() }
        let members = try root.mapping(allowed: ["default_server", "servers"])
        var configuration = ClientConfiguration(defaultServer: try members["default_server"]?.nonEmptyString())
        for (name, field) in try members["servers"]?.entries() ?? [] {
            guard RoleDefinition.isValidName(name) else {
                throw field.error("a server name is lowercase letters, digits, '.', '_' and '-'")
            }
            configuration.servers.append(try Self.server(named: name, field))
        }
        if let name = configuration.defaultServer, configuration.server(named: name) == nil, let field = members["default_server"] {
            throw field.error("names no server of `servers`")
        }
        return configuration
    }

    private static func server(named name: String, _ field: YAMLField) throws(PolicyError) -> Server {
        let members = try field.mapping(allowed: ["url", "client_id", "subject_token"])
        guard let urlField = members["url"] else { throw field.error("a server needs its url (the Tessera issuer)") }
        let url = try urlField.nonEmptyString()
        guard let components = URLComponents(string: url), ["http", "https"].contains(components.scheme ?? ""), components.host != nil else {
            throw urlField.error("must be an absolute http or https URL")
        }
        var server = Server(name: name, url: url, clientID: try members["client_id"]?.nonEmptyString(), location: field.location)
        if let source = members["subject_token"] {
            server.subjectToken = try subjectToken(source)
        }
        return server
    }

    private static func subjectToken(_ field: YAMLField) throws(PolicyError) -> SubjectTokenSetting {
        let members = try field.mapping(allowed: ["command", "file", "env"])
        guard members.count == 1, let (kind, value) = members.first else {
            throw field.error("give exactly one of command, file or env")
        }
        switch kind {
        case "command": return .command(try value.nonEmptyString())
        case "file": return .file(try value.nonEmptyString())
        default: return .environment(try value.nonEmptyString())
        }
    }

    /// The YAML `tessera config init` writes for one server.
    public static func render(server name: String, url: String, clientID: String, subjectTokenCommand: String?) -> String {
        var lines = [
            "# The Tessera CLI's settings (README: \"The command line\"). Flags and TESSERA_* variables override them.",
            "default_server: \(name)",
            "servers:",
            "  \(name):",
            "    url: \(quoted(url))                # the issuer; endpoints come from its discovery document",
            "    client_id: \(quoted(clientID))",
        ]
        if let subjectTokenCommand {
            lines += ["    subject_token:", "      command: \(quoted(subjectTokenCommand))"]
        } else {
            lines += [
                "    # Where your identity token comes from, one of:",
                "    # subject_token: {command: \"gcloud auth print-identity-token\"}",
                "    # subject_token: {file: ~/.config/tessera/id-token}",
                "    # subject_token: {env: MY_ID_TOKEN}",
            ]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A YAML double-quoted scalar.
    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
