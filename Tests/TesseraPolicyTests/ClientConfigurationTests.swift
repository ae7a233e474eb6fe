import Testing
import TesseraPolicy

@Suite("the CLI's config.yaml")
struct ClientConfigurationTests {
    @Test func parsesEverySubjectTokenSource() throws {
        let configuration = try ClientConfiguration.parse("""
        default_server: prod
        servers:
          prod:
            url: https://tessera.example.com
            subject_token:
              login: {issuer: "https://login.example.com", client_id: tessera-cli, scopes: [openid, email, offline_access]}
          google:
            url: https://tessera.example.com
            client_id: laptop
            subject_token:
              login: {issuer: "https://accounts.google.com", client_id: "123.apps.googleusercontent.com", client_secret: installed-app}
          gcloud:
            url: http://127.0.0.1:8080
            subject_token: {command: gcloud auth print-identity-token}
          filed:
            url: https://tessera.example.com
            subject_token: {file: ~/id-token}
          env:
            url: https://tessera.example.com
            subject_token: {env: MY_TOKEN}
        """, file: "config.yaml")
        #expect(configuration.defaultServer == "prod")
        #expect(configuration.server(named: "prod")?.subjectToken == .login(.init(
            issuer: "https://login.example.com", clientID: "tessera-cli", scopes: ["openid", "email", "offline_access"])))
        #expect(configuration.server(named: "google")?.subjectToken == .login(.init(
            issuer: "https://accounts.google.com", clientID: "123.apps.googleusercontent.com", clientSecret: "installed-app")))
        #expect(configuration.server(named: "google")?.clientID == "laptop")
        #expect(configuration.server(named: "gcloud")?.subjectToken == .command("gcloud auth print-identity-token"))
        #expect(configuration.server(named: "filed")?.subjectToken == .file("~/id-token"))
        #expect(configuration.server(named: "env")?.subjectToken == .environment("MY_TOKEN"))
    }

    @Test(arguments: [
        ("subject_token: {login: {client_id: cli}}", "login needs the provider's issuer"),
        ("subject_token: {login: {issuer: \"http://login.example.com\", client_id: cli}}", "must be an https URL"),
        ("subject_token: {login: {issuer: \"https://login.example.com\", client_id: cli, scopes: [email]}}", "must include openid"),
        ("subject_token: {login: {issuer: \"https://login.example.com\", client_id: cli, prompt: none}}", "prompt"),
        ("subject_token: {command: a, env: B}", "exactly one of command, file, env or login"),
    ])
    func refusesBadSettingsWithTheLine(_ setting: String, _ reason: String) {
        let text = "servers:\n  prod:\n    url: https://tessera.example.com\n    \(setting)\n"
        #expect {
            _ = try ClientConfiguration.parse(text, file: "config.yaml")
        } throws: { error in
            let description = "\(error)"
            return description.contains(reason) && description.contains("config.yaml:4")
        }
    }

    @Test func whatConfigInitWritesParsesBack() throws {
        let login = ClientConfiguration.LoginProvider(issuer: "https://login.example.com", clientID: "tessera-cli", clientSecret: "s\"x")
        let text = ClientConfiguration.render(server: "prod", url: "https://tessera.example.com", clientID: "tessera-cli",
                                              subjectTokenCommand: nil, login: login)
        let parsed = try ClientConfiguration.parse(text, file: "config.yaml")
        #expect(parsed.server(named: "prod")?.subjectToken == .login(login))
        let commented = ClientConfiguration.render(server: "prod", url: "https://tessera.example.com", clientID: "tessera-cli",
                                                   subjectTokenCommand: nil)
        #expect(try ClientConfiguration.parse(commented, file: "config.yaml").server(named: "prod")?.subjectToken == nil)
    }
}
