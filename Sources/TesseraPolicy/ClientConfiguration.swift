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
        /// The ID token `tessera login` obtained from this OpenID Connect provider.
        case login(LoginProvider)
    }

    /// The OpenID Connect provider `tessera login` signs in with: the authorization code flow
    /// with PKCE and a loopback redirect (RFC 8252), as a native application registered there.
    public struct LoginProvider: Sendable, Hashable {
        public static let defaultScopes = ["openid", "email", "profile"]

        /// The provider's issuer; its endpoints come from its OpenID Connect discovery document.
        public var issuer: String
        /// The CLI's client id at the provider (the audience of its ID tokens).
        public var clientID: String
        /// Only for providers that give native applications a secret that is not one (Google's
        /// "installed app" clients): sent with HTTP Basic, never relied on for security.
        public var clientSecret: String?
        public var scopes: [String]

        public init(issuer: String, clientID: String, clientSecret: String? = nil, scopes: [String] = LoginProvider.defaultScopes) {
            self.issuer = issuer
            self.clientID = clientID
            self.clientSecret = clientSecret
            self.scopes = scopes
        }
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
        let members = try field.mapping(allowed: ["command", "file", "env", "login"])
        guard members.count == 1, let (kind, value) = members.first else {
            throw field.error("give exactly one of command, file, env or login")
        }
        switch kind {
        case "command": return .command(try value.nonEmptyString())
        case "file": return .file(try value.nonEmptyString())
        case "login": return .login(try loginProvider(value))
        default: return .environment(try value.nonEmptyString())
        }
    }

    private static func loginProvider(_ field: YAMLField) throws(PolicyError) -> LoginProvider {
        let members = try field.mapping(allowed: ["issuer", "client_id", "client_secret", "scopes"])
        guard let issuerField = members["issuer"], let clientIDField = members["client_id"] else {
            throw field.error("login needs the provider's issuer and the CLI's client_id there")
        }
        let issuer = try issuerField.nonEmptyString()
        guard UpstreamDefinition.isAcceptableURL(issuer) else {
            throw issuerField.error("must be an https URL (http only on loopback)")
        }
        var provider = LoginProvider(issuer: issuer, clientID: try clientIDField.nonEmptyString(),
                                     clientSecret: try members["client_secret"]?.nonEmptyString())
        if let scopesField = members["scopes"] {
            provider.scopes = try scopesField.stringList()
            guard provider.scopes.contains("openid") else { throw scopesField.error("must include openid (the ID token is what login is for)") }
        }
        return provider
    }

    /// The YAML `tessera config init` writes for one server.
    public static func render(server name: String, url: String, clientID: String, subjectTokenCommand: String?,
                              login: LoginProvider? = nil) -> String {
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
        } else if let login {
            lines += [
                "    subject_token:                # `tessera login` signs in here and keeps the ID token",
                "      login:",
                "        issuer: \(quoted(login.issuer))",
                "        client_id: \(quoted(login.clientID))",
            ]
            if let secret = login.clientSecret { lines.append("        client_secret: \(quoted(secret))") }
            lines.append("        scopes: [\(login.scopes.map(quoted).joined(separator: ", "))]")
        } else {
            lines += [
                "    # Where your identity token comes from, one of:",
                "    # subject_token: {login: {issuer: \"https://idp.example.com\", client_id: \"tessera-cli\"}}",
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
