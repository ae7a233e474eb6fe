import ArgumentParser
import Foundation
import TesseraPolicy

/// `tessera status`: my open activations (time left, tokens issued) and pending requests.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Your active activations (time left, tokens issued) and pending requests.",
        discussion: "Examples:\n  tessera status\n  tessera status --reviews        (break-glass uses waiting for a review)\n  tessera status --json")

    @Flag(help: "Break-glass uses waiting for a review (for approvers).") var reviews = false
    @Flag(help: "Print the API's JSON.") var json = false
    @OptionGroup var client: ClientOptions

    func run() async throws {
        if reviews {
            let body = await callAsPerson(client, "GET", "/activations?awaiting_review=true")
            if json { return printJSON(body) }
            let items = body["items"] as? [[String: Any]] ?? []
            guard !items.isEmpty else { return print("no break-glass use waits for a review") }
            printTable(["ACTIVATION", "ROLE", "HOLDER", "STARTED", "REASON"], items.map { item in
                [item["id"], item["role"], item["holder"], item["starts_at"], item["justification"]].map(cell)
            })
            return
        }
        let activations = await callAsPerson(client, "GET", "/activations?mine=true&state=active")
        let requests = await callAsPerson(client, "GET", "/requests?mine=true&state=pending")
        if json { return printJSON(["activations": activations["items"] ?? [], "requests": requests["items"] ?? []]) }
        let open = activations["items"] as? [[String: Any]] ?? []
        let pending = requests["items"] as? [[String: Any]] ?? []
        if open.isEmpty { print("no active activation") } else {
            printTable(["ACTIVATION", "ROLE", "LEFT", "TOKENS", "ENDS"], open.map { item in
                let ends = (item["ends_at"] as? String).flatMap(RFC3339.date)
                let left = ends.map { DurationText.format(max(0, Int($0.timeIntervalSinceNow))) } ?? "-"
                return ["\(item["id"] ?? "")", "\(item["role"] ?? "")", left, "\(item["tokens"] ?? 0)", "\(item["ends_at"] ?? "")"]
            })
        }
        if pending.isEmpty { print("no pending request") } else {
            printTable(["REQUEST", "ROLE", "EXPIRES", "REASON"], pending.map { item in
                [item["id"], item["role"], item["expires_at"], item["justification"]].map(cell)
            })
        }
    }
}

/// An activation named by its id, or by its role (your active one).
func activationID(_ target: String, _ client: ClientOptions) async -> String {
    if target.hasPrefix("act_") { return target }
    let body = await callAsPerson(client, "GET", "/activations?mine=true&state=active")
    let matching = (body["items"] as? [[String: Any]] ?? []).filter { $0["role"] as? String == target }
    guard let id = matching.last?["id"] as? String else { exitWith(.failure, "you have no active activation of role \(target)") }
    return id
}

/// `tessera end ROLE|ID`: ends access early; every token of it is revoked.
struct EndCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "end", abstract: "End an activation early: every token issued under it is revoked at once.",
        discussion: "Example: tessera end db-admin --reason done")

    @Argument(help: "The role (your active activation of it) or an activation id.") var target: String
    @Option(help: "Why, for the audit log.") var reason: String?
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let id = await activationID(target, client)
        let body = await callAsPerson(client, "POST", "/activations/\(id)/end", form: reason.map { [("reason", $0)] } ?? [])
        if let role = body["role"] as? String {
            TokenCache(cacheDirectory: client.settings().cacheDirectory).removeAll(role: role)
        }
        print("\(id): \(body["state"] ?? "?"); its tokens are revoked")
    }
}

/// `tessera extend ROLE|ID --duration 30m`: more time, within the role's limits.
struct ExtendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extend", abstract: "Extend an active activation within the role's extend limits (some need approval).",
        discussion: "Example: tessera extend db-admin --duration 30m --reason \"migration still running\"")

    @Argument(help: "The role (your active activation of it) or an activation id.") var target: String
    @Option(help: "How much longer, e.g. 30m.") var duration: String
    @Option(help: "Why (approvers read it when the extension needs approval).") var reason: String?
    @OptionGroup var client: ClientOptions

    func validate() throws {
        if DurationText.seconds(duration) == nil { throw ValidationError("--duration must be a duration such as 30m") }
    }

    func run() async throws {
        let id = await activationID(target, client)
        var form = [("by", duration)]
        if let reason { form.append(("justification", reason)) }
        let body = await callAsPerson(client, "POST", "/activations/\(id)/extend", form: form)
        if let request = body["request"] as? [String: Any] {
            print("the extension needs approval: request \(request["id"] ?? "?") (\(request["state"] ?? "?"))")
        } else {
            print("\(id): ends at \(body["ends_at"] ?? "?")")
        }
    }
}
