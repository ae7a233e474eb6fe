import ArgumentParser
import Foundation
import TesseraCrypto
import TesseraJWT
import TesseraPolicy

/// Options every client command takes: which server, and overrides of its settings.
struct ClientOptions: ParsableArguments {
    @Option(help: "The server, by its name in config.yaml (env TESSERA_SERVER; default: default_server).")
    var server: String?

    @Option(help: "The Tessera URL, its issuer (env TESSERA_URL; overrides the server's url).")
    var url: String?

    @Option(name: .customLong("client-id"), help: "The client id the CLI exchanges as (env TESSERA_CLIENT_ID; default tessera-cli).")
    var clientID: String?

    @Option(name: .customLong("config"), help: "The settings file (env TESSERA_CONFIG; default $XDG_CONFIG_HOME/tessera/config.yaml).")
    var configFile: String?

    func settings() -> ClientSettings {
        do {
            return try ClientSettings.resolve(self, environment: ProcessInfo.processInfo.environment)
        } catch {
            exitWith(.usage, error.message)
        }
    }
}

/// A refusal to resolve settings, said in words with what to do next.
struct SettingsError: Error {
    let message: String
}

/// The effective settings of one client command, each value with where it came from (a flag,
/// a variable, the file and line, or the default), as `tessera config show` prints them.
struct ClientSettings {
    struct Sourced<Value> {
        let value: Value
        let source: String
    }

    let configPath: String
    let serverName: Sourced<String>?
    let url: Sourced<String>
    let clientID: Sourced<String>
    let subjectToken: Sourced<ClientConfiguration.SubjectTokenSetting>?
    /// Where this server's cached tokens live: `$XDG_CACHE_HOME/tessera/<server>`.
    let cacheDirectory: String

    static func configPath(_ options: ClientOptions, environment: [String: String]) -> String {
        if let path = options.configFile ?? environment["TESSERA_CONFIG"].nonEmpty { return path }
        let base = environment["XDG_CONFIG_HOME"].nonEmpty ?? (NSHomeDirectory() as NSString).appendingPathComponent(".config")
        return (base as NSString).appendingPathComponent("tessera/config.yaml")
    }

    static func loadConfiguration(at path: String) throws(SettingsError) -> ClientConfiguration {
        guard FileManager.default.fileExists(atPath: path) else { return ClientConfiguration() }
        do {
            return try ClientConfiguration.parse(try String(contentsOfFile: path, encoding: .utf8), file: path)
        } catch let error as PolicyError {
            throw SettingsError(message: error.description)
        } catch {
            throw SettingsError(message: "cannot read \(path): \(error.localizedDescription)")
        }
    }

    static func resolve(_ options: ClientOptions, environment: [String: String]) throws(SettingsError) -> ClientSettings {
        let path = configPath(options, environment: environment)
        let file = try loadConfiguration(at: path)
        var serverName: Sourced<String>?
        if let name = options.server {
            serverName = Sourced(value: name, source: "--server")
        } else if let name = environment["TESSERA_SERVER"].nonEmpty {
            serverName = Sourced(value: name, source: "TESSERA_SERVER")
        } else if let name = file.defaultServer {
            serverName = Sourced(value: name, source: "\(path): default_server")
        } else if file.servers.count == 1 {
            serverName = Sourced(value: file.servers[0].name, source: "\(path): its only server")
        }
        let server = try serverName.map { (name) throws(SettingsError) -> ClientConfiguration.Server in
            guard let server = file.server(named: name.value) else {
                let known = file.servers.map(\.name)
                throw SettingsError(message: "no server named \(name.value) in \(path)"
                    + (known.isEmpty ? "; run `tessera config init`" : "; it has \(known.joined(separator: ", "))"))
            }
            return server
        }
        let fileSource = { (field: String) in "\(path):\(server?.location.line ?? 0): servers.\(server?.name ?? "").\(field)" }

        /// A flag wins over its variable, which wins over the file.
        func first(_ flag: (String?, String), _ variable: String, _ file: (String?, String)) -> Sourced<String>? {
            if let value = flag.0 { return Sourced(value: value, source: flag.1) }
            if let value = environment[variable].nonEmpty { return Sourced(value: value, source: variable) }
            return file.0.map { Sourced(value: $0, source: fileSource(file.1)) }
        }
        guard let url = first((options.url, "--url"), "TESSERA_URL", (server?.url, "url")) else {
            throw SettingsError(message: "no Tessera server is configured: run `tessera config init --url https://tessera.example.com`, "
                + "or pass --url or set TESSERA_URL")
        }
        let clientID = first((options.clientID, "--client-id"), "TESSERA_CLIENT_ID", (server?.clientID, "client_id"))
            ?? Sourced(value: ClientConfiguration.defaultClientID, source: "default")
        var subjectToken: Sourced<ClientConfiguration.SubjectTokenSetting>?
        if environment["TESSERA_SUBJECT_TOKEN"].nonEmpty != nil {
            subjectToken = Sourced(value: .environment("TESSERA_SUBJECT_TOKEN"), source: "TESSERA_SUBJECT_TOKEN")
        } else if let command = environment["TESSERA_SUBJECT_TOKEN_COMMAND"].nonEmpty {
            subjectToken = Sourced(value: .command(command), source: "TESSERA_SUBJECT_TOKEN_COMMAND")
        } else if let setting = server?.subjectToken {
            subjectToken = Sourced(value: setting, source: fileSource("subject_token"))
        }
        let cacheBase = environment["XDG_CACHE_HOME"].nonEmpty ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache")
        // A server without a name (--url alone) gets a folder named after its URL.
        let cacheName = serverName?.value ?? "url-" + Base64URL.encode(Array(SHA256.hash(Array(url.value.utf8)).prefix(12)))
        return ClientSettings(configPath: path, serverName: serverName, url: url, clientID: clientID, subjectToken: subjectToken,
                              cacheDirectory: (cacheBase as NSString).appendingPathComponent("tessera/\(cacheName)"))
    }

    /// The issuer without a trailing `/`, as tokens carry it.
    var issuer: String { url.value.hasSuffix("/") ? String(url.value.dropLast()) : url.value }
}

extension Optional where Wrapped == String {
    /// The value unless it is missing or empty (an empty variable counts as unset).
    var nonEmpty: String? {
        guard let self, !self.isEmpty else { return nil }
        return self
    }
}
