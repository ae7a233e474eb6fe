import ArgumentParser
import Foundation
import TesseraPolicy

/// `tessera config init|show`: the CLI's settings file and what is in effect.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "The CLI's settings: write them (init) or print what is in effect and why (show).",
        subcommands: [Init.self, Show.self])

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write config.yaml for one server.",
            discussion: """
            Example:
              tessera config init --url https://tessera.example.com --login-issuer https://login.example.com
              tessera config init --url https://tessera.example.com \\
                --subject-token-command "gcloud auth print-identity-token"
            """)

        @Option(help: "The Tessera server's URL (its issuer).") var url: String
        @Option(help: "The server's name in the file.") var name = "default"
        @Option(name: .customLong("client-id"), help: "The client id the CLI exchanges as.") var clientID = ClientConfiguration.defaultClientID
        @Option(name: .customLong("subject-token-command"), help: "A command that prints your identity token.") var subjectTokenCommand: String?
        @Option(name: .customLong("login-issuer"), help: "Sign in with `tessera login` at this OpenID Connect provider instead.")
        var loginIssuer: String?
        @Option(name: .customLong("login-client-id"), help: "The CLI's client id at that provider.") var loginClientID = ClientConfiguration.defaultClientID
        @Option(name: .customLong("config"), help: "The file to write (env TESSERA_CONFIG; default $XDG_CONFIG_HOME/tessera/config.yaml).")
        var configFile: String?
        @Flag(help: "Replace an existing file.") var force = false

        func run() throws {
            var options = ClientOptions()
            options.configFile = configFile
            let path = ClientSettings.configPath(options, environment: ProcessInfo.processInfo.environment)
            if FileManager.default.fileExists(atPath: path), !force {
                exitWith(.usage, "\(path) exists; edit it, or pass --force to replace it")
            }
            if subjectTokenCommand != nil, loginIssuer != nil {
                exitWith(.usage, "give --subject-token-command or --login-issuer, not both")
            }
            let login = loginIssuer.map { ClientConfiguration.LoginProvider(issuer: $0, clientID: loginClientID) }
            let text = ClientConfiguration.render(server: name, url: url, clientID: clientID, subjectTokenCommand: subjectTokenCommand,
                                                  login: login)
            do {
                _ = try ClientConfiguration.parse(text, file: path)
            } catch {
                exitWith(.usage, error.description)
            }
            do {
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: path, atomically: true, encoding: .utf8)
            } catch {
                exitWith(.failure, "cannot write \(path): \(error.localizedDescription)")
            }
            print("wrote \(path)")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the settings in effect and where each comes from.",
                                                        discussion: "Examples:\n  tessera config show\n  tessera config show --server staging")

        @OptionGroup var client: ClientOptions

        func run() {
            let settings = client.settings()
            print("config file    \(settings.configPath)\(FileManager.default.fileExists(atPath: settings.configPath) ? "" : " (missing)")")
            print("server         \(settings.serverName.map { "\($0.value)  (\($0.source))" } ?? "(none: --url or TESSERA_URL)")")
            print("url            \(settings.url.value)  (\(settings.url.source))")
            print("client id      \(settings.clientID.value)  (\(settings.clientID.source))")
            let token = settings.subjectToken.map { setting -> String in
                switch setting.value {
                case .command(let command): "command: \(command)  (\(setting.source))"
                case .file(let path): "file: \(path)  (\(setting.source))"
                case .environment(let name): "environment variable \(name)  (\(setting.source))"
                case .login(let provider): "tessera login at \(provider.issuer) as client \(provider.clientID)  (\(setting.source))"
                }
            }
            print("subject token  \(token ?? "(none: set subject_token in the config file)")")
            print("token cache    \(settings.cacheDirectory)")
        }
    }
}
