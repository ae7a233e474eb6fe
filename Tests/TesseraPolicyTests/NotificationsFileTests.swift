import Foundation
import Testing
import TesseraPolicy

@Suite("notifications.yaml parsing")
struct NotificationsFileTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    /// A bundle folder holding `files` (relative path -> text), removed when the test ends.
    final class Folder {
        let path: String

        init(_ files: [String: String]) throws {
            path = NSTemporaryDirectory() + "tessera-notifications-\(UUID())"
            for (name, text) in files {
                let file = (path as NSString).appendingPathComponent(name)
                try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: file, atomically: true, encoding: .utf8)
            }
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    func parse(_ yaml: String, directory: String = "/nonexistent", roles: Set<String>? = nil,
               environment: [String: String] = [:]) throws(PolicyError) -> NotificationSettings {
        try PolicyBundle.parseNotifications(yaml, file: "notifications.yaml", directory: directory, roles: roles, environment: environment)
    }

    @Test func parsesSinksRoutesAndSecuritySinks() throws {
        let folder = try Folder(["keys/webhook-secret": Self.secret + "\n", "slack-url": "https://hooks.slack.com/services/T0/B0/x\n"])
        let yaml = """
        expiry_warning: 10m
        sinks:
          security-hook:
            type: webhook
            url: https://hooks.example.com/tessera
            secret_file: keys/webhook-secret
          sre-slack:
            type: slack
            url_env: TESSERA_SLACK_URL
          audit.slack:
            type: slack
            url_file: slack-url
          env-hook:
            type: webhook
            url: http://127.0.0.1:9000/hook
            secret_env: HOOK_SECRET
        routes:
          - events: [request.created, request.escalated]
            roles: [db-admin]
            sinks: [sre-slack]
          - events: ["*"]
            sinks: [env-hook, env-hook]
        security_sinks: [security-hook, audit.slack]
        """
        let settings = try parse(yaml, directory: folder.path, roles: ["db-admin"], environment: [
            "TESSERA_SLACK_URL": "https://hooks.slack.com/services/T1/B1/y", "HOOK_SECRET": Self.secret,
        ])
        #expect(settings.expiryWarningSeconds == 600)
        #expect(settings.sinks.map(\.name) == ["security-hook", "sre-slack", "audit.slack", "env-hook"])
        let hook = try #require(settings.sink(named: "security-hook"))
        #expect(hook.kind == .webhook)
        #expect(hook.url == "https://hooks.example.com/tessera")
        #expect(hook.secret?.bytes.count == 24)
        #expect(hook.location.line == 4)  // the sink's first field
        #expect(settings.sink(named: "sre-slack")?.url == "https://hooks.slack.com/services/T1/B1/y")
        #expect(settings.sink(named: "sre-slack")?.secret == nil)
        #expect(settings.sink(named: "audit.slack")?.url == "https://hooks.slack.com/services/T0/B0/x")
        #expect(settings.sink(named: "env-hook")?.secret == hook.secret)
        #expect(settings.routes.count == 2)
        #expect(settings.routes[0].events == [.requestCreated, .requestEscalated])
        #expect(settings.routes[0].roles == ["db-admin"])
        #expect(settings.routes[1].events == nil)
        #expect(settings.routes[1].sinks == ["env-hook"])
        #expect(settings.securitySinks == ["security-hook", "audit.slack"])

        // Routing: every matching route's sinks, once each, in file order; security sinks for break-glass.
        #expect(settings.sinks(for: .requestCreated, role: "db-admin", breakGlass: false).map(\.name) == ["sre-slack", "env-hook"])
        #expect(settings.sinks(for: .requestCreated, role: "other", breakGlass: false).map(\.name) == ["env-hook"])
        #expect(settings.sinks(for: .requestApproved, role: "db-admin", breakGlass: false).map(\.name) == ["env-hook"])
        #expect(settings.sinks(for: .activationStarted, role: "db-admin", breakGlass: true).map(\.name)
            == ["security-hook", "audit.slack", "env-hook"])
        #expect(settings.sinks(for: .breakGlassUsed, role: nil, breakGlass: false).map(\.name) == ["security-hook", "audit.slack", "env-hook"])
        // The secret never shows in a description.
        #expect(!"\(settings)".contains("MfKQ9r8G"))
    }

    @Test func anEmptyFileOrNoFileMeansNothingIsSent() throws {
        #expect(try parse("").sinks.isEmpty)
        #expect(try parse("# nothing yet\n").routes.isEmpty)
        #expect(try parse("sinks:\nroutes:\n").expiryWarningSeconds == NotificationSettings.defaultExpiryWarningSeconds)
        let folder = try Folder([:])
        let bundle = try PolicyBundle.load(directory: folder.path)
        #expect(bundle.notifications == NotificationSettings())
    }

    /// Each broken file is refused with the file, the line and the field at fault.
    @Test(arguments: [
        ("sink:\n  a: {}\n", 1, "sink", "unknown field"),
        ("sinks:\n  a:\n    type: webhook\n    url: https://h.example\n    secret_env: S\n    timeout: 5s\n", 6, "sinks.a.timeout", "unknown field"),
        ("sinks:\n  Bad_Name:\n    type: slack\n    url: https://h.example\n", 3, "sinks.Bad_Name", "sink names"),
        ("sinks:\n  a:\n    type: email\n    url: https://h.example\n", 3, "sinks.a.type", "unknown sink type"),
        ("sinks:\n  a:\n    type: slack\n", 3, "sinks.a", "exactly one of url"),
        ("sinks:\n  a:\n    type: slack\n    url: https://h.example\n    url_env: X\n", 3, "sinks.a", "it has url, url_env"),
        ("sinks:\n  a:\n    type: slack\n    url: ftp://h.example/x\n", 4, "sinks.a.url", "absolute http or https"),
        ("sinks:\n  a:\n    type: slack\n    url: /relative/path\n", 4, "sinks.a.url", "absolute http or https"),
        ("sinks:\n  a:\n    type: slack\n    url: https://user:pw@h.example\n", 4, "sinks.a.url", "absolute http or https"),
        ("sinks:\n  a:\n    type: slack\n    url_env: NOT_SET\n", 4, "sinks.a.url_env", "NOT_SET is not set"),
        ("sinks:\n  a:\n    type: webhook\n    url: https://h.example\n", 3, "sinks.a", "needs exactly one of secret_env or secret_file"),
        ("sinks:\n  a:\n    type: webhook\n    url: https://h.example\n    secret_env: SHORT\n", 5, "sinks.a.secret_env", "24 to 64"),
        ("sinks:\n  a:\n    type: webhook\n    url: https://h.example\n    secret_env: NOPREFIX\n", 5, "sinks.a.secret_env", "whsec_"),
        ("sinks:\n  a:\n    type: webhook\n    url: https://h.example\n    secret_env: LONG\n", 5, "sinks.a.secret_env", "24 to 64"),
        ("sinks:\n  a:\n    type: webhook\n    url: https://h.example\n    secret_file: missing\n", 5, "sinks.a.secret_file", "cannot read"),
        ("sinks:\n  a:\n    type: slack\n    url: https://h.example\n    secret_env: GOOD\n", 5, "sinks.a.secret_env", "not signed"),
        ("sinks:\n  a:\n    type: slack\n    url: https://h.example\nroutes:\n  - events: [request.made]\n    sinks: [a]\n", 6,
         "routes[0].events", "unknown event \"request.made\""),
        ("sinks:\n  a:\n    type: slack\n    url: https://h.example\nroutes:\n  - events: [\"*\"]\n    sinks: [b]\n", 7,
         "routes[0].sinks", "unknown sink \"b\""),
        ("sinks:\n  a:\n    type: slack\n    url: https://h.example\nroutes:\n  - sinks: [a]\n", 6, "routes[0]", "needs events"),
        ("sinks:\n  a:\n    type: slack\n    url: https://h.example\nroutes:\n  - events: [\"*\"]\n", 6, "routes[0]", "needs sinks"),
        ("sinks:\n  a:\n    type: slack\n    url: https://h.example\nroutes:\n  - events: [\"*\"]\n    sinks: []\n", 7, "routes[0].sinks",
         "at least one sink"),
        ("sinks:\n  a:\n    type: slack\n    url: https://h.example\nroutes:\n  - events: [\"*\"]\n    roles: [db-amdin]\n    sinks: [a]\n", 7,
         "routes[0].roles", "unknown role \"db-amdin\""),
        ("security_sinks: [nowhere]\n", 1, "security_sinks", "unknown sink \"nowhere\"; none is declared"),
        ("expiry_warning: soon\n", 1, "expiry_warning", "expected a duration"),
        ("expiry_warning: 0s\n", 1, "expiry_warning", "longer than 0s"),
        ("sinks:\n  a:\n    type: slack\n    url: https://h.example\n  a:\n    type: slack\n    url: https://h.example\n", nil, nil,
         "duplicate keys"),
    ] as [(String, Int?, String?, String)])
    func refusesBrokenFiles(yaml: String, line: Int?, field: String?, message: String) {
        let environment = [
            "SHORT": "whsec_" + Data(repeating: 1, count: 23).base64EncodedString(),
            "LONG": "whsec_" + Data(repeating: 1, count: 65).base64EncodedString(),
            "NOPREFIX": Data(repeating: 1, count: 32).base64EncodedString(), "GOOD": Self.secret,
        ]
        let error = #expect(throws: PolicyError.self) { try parse(yaml, roles: ["db-admin"], environment: environment) }
        #expect(error?.location.file == "notifications.yaml")
        if let line { #expect(error?.location.line == line, "\(error?.description ?? "")") }
        #expect(error?.field == field, "\(error?.description ?? "")")
        #expect(error?.message.contains(message) == true, "\(error?.description ?? "")")
    }

    /// Secrets are never repeated in an error: a misconfigured URL from url_env is a credential.
    @Test func errorsDoNotRepeatTheURLOrSecret() {
        let error = #expect(throws: PolicyError.self) {
            try parse("sinks:\n  a:\n    type: slack\n    url_env: U\n", environment: ["U": "hooks.slack.com/services/T0/B0/secretpart"])
        }
        #expect(error?.description.contains("secretpart") == false)
    }

    /// `PolicyBundle.load` reads notifications.yaml after the roles and refuses a broken one.
    @Test func theBundleLoadsItAndChecksRouteRoles() throws {
        let roles = "roles:\n  - name: db-admin\n    audiences: [x]\n    max_duration: 1h\n"
        let good = try Folder(["roles/db.yaml": roles, "hook.secret": Self.secret, "notifications.yaml": """
            sinks:
              hook: {type: webhook, url: "https://h.example/x", secret_file: hook.secret}
            routes:
              - {events: ["*"], roles: [db-admin], sinks: [hook]}
            """])
        let loaded = try PolicyBundle.load(directory: good.path)
        #expect(loaded.notifications.sinks.map(\.name) == ["hook"])
        #expect(loaded.notifications.location?.file.hasSuffix("/notifications.yaml") == true)

        let bad = try Folder(["roles/db.yaml": roles, "notifications.yaml": "sinks:\n  hook: {type: slack, url: \"https://h.example\"}\nroutes:\n"
            + "  - {events: [\"*\"], roles: [db-admn], sinks: [hook]}\n"])
        let error = #expect(throws: PolicyError.self) { try PolicyBundle.load(directory: bad.path) }
        #expect(error?.location.file.hasSuffix("/notifications.yaml") == true)
        #expect(error?.location.line == 4)
        #expect(error?.field == "routes[0].roles")
    }

    @Test func webhookSecretsDecodeAndRefuseBadLengths() {
        #expect(WebhookSecret(text: Self.secret)?.bytes.count == 24)
        #expect(WebhookSecret(text: "whsec_" + Data(repeating: 7, count: 64).base64EncodedString())?.bytes.count == 64)
        #expect(WebhookSecret(text: "whsec_not base64!") == nil)
        #expect(WebhookSecret(text: String(Self.secret.dropFirst(6))) == nil)
    }
}
