import Foundation
import Yams

/// `networks.yaml`: named CIDR lists that roles refer to, and the trusted proxies.
public struct NetworkSettings: Sendable, Hashable {
    public var networks: [String: NetworkSet]
    public var trustedProxies: TrustedProxies

    public init(networks: [String: NetworkSet] = [:], trustedProxies: TrustedProxies = TrustedProxies()) {
        self.networks = networks
        self.trustedProxies = trustedProxies
    }
}

extension PolicyBundle {
    public static let networksFileName = "networks.yaml"
    public static let rolesDirectoryName = "roles"

    /// Parses the text of a `networks.yaml`.
    public static func parseNetworks(_ text: String, file: String) throws(PolicyError) -> NetworkSettings {
        guard let root = try parseYAMLDocument(text, file: file), !root.isNull else { return NetworkSettings() }
        let members = try root.mapping(allowed: ["networks", "trusted_proxies"])
        var settings = NetworkSettings()
        if let list = members["networks"], !list.isNull {
            for (name, value) in try list.entries() {
                guard RoleDefinition.isValidName(name), IPAddress(name) == nil else {
                    throw value.error("network names use lowercase letters, digits, '-', '_' and '.' (at most 64)")
                }
                var blocks: [IPNetwork] = []
                for element in try value.isScalar ? [value] : value.sequence() {
                    blocks.append(try element.cidr())
                }
                guard !blocks.isEmpty else { throw value.error("a network needs at least one CIDR block") }
                settings.networks[name] = NetworkSet(name: name, networks: blocks)
            }
        }
        if let proxies = members["trusted_proxies"], !proxies.isNull {
            let fields = try proxies.mapping(allowed: ["header", "networks"])
            var header = ForwardedHeader.xForwardedFor
            if let headerField = fields["header"] {
                let text = try headerField.string().lowercased()
                guard let parsed = ForwardedHeader(rawValue: text) else {
                    throw headerField.error("expected x-forwarded-for or forwarded")
                }
                header = parsed
            }
            var blocks: [IPNetwork] = []
            if let list = fields["networks"] {
                for set in try list.networkReferences(settings.networks) { blocks += set.networks }
            }
            settings.trustedProxies = TrustedProxies(networks: blocks, header: header)
        }
        return settings
    }

    /// Parses the text of one file of `roles/`; named networks resolve against `networks`.
    public static func parseRoles(_ text: String, file: String, networks: [String: NetworkSet] = [:]) throws(PolicyError) -> [RoleDefinition] {
        guard let root = try parseYAMLDocument(text, file: file), !root.isNull else { return [] }
        let members = try root.mapping(allowed: ["roles"])
        guard let list = members["roles"], !list.isNull else { return [] }
        var roles: [RoleDefinition] = []
        for element in try list.sequence() {
            roles.append(try RoleDefinition(field: element, networks: networks))
        }
        return roles
    }

    /// Reads `networks.yaml` (optional) and every `*.yaml`/`*.yml` of `roles/` (optional), in
    /// name order. Role names are unique across files.
    static func loadAccess(directory: String) throws(PolicyError) -> (NetworkSettings, [RoleDefinition]) {
        let networksPath = (directory as NSString).appendingPathComponent(networksFileName)
        var settings = NetworkSettings()
        if FileManager.default.fileExists(atPath: networksPath) {
            settings = try parseNetworks(try readPolicyFile(networksPath), file: networksPath)
        }
        let rolesDirectory = (directory as NSString).appendingPathComponent(rolesDirectoryName)
        var roles: [RoleDefinition] = []
        var seen: [String: SourceLocation] = [:]
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: rolesDirectory, isDirectory: &isDirectory), isDirectory.boolValue {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: rolesDirectory)
                    .filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !PolicyBundle.isScratchFile($0) }.sorted()
            } catch {
                throw PolicyError(SourceLocation(file: rolesDirectory), field: nil, "cannot list the folder: \(error.localizedDescription)")
            }
            for name in names {
                let path = (rolesDirectory as NSString).appendingPathComponent(name)
                for role in try parseRoles(try readPolicyFile(path), file: path, networks: settings.networks) {
                    if let first = seen[role.name] {
                        throw PolicyError(role.location, field: nil, "role \"\(role.name)\" is already declared at \(first)")
                    }
                    seen[role.name] = role.location
                    roles.append(role)
                }
            }
        }
        return (settings, roles)
    }

    /// The text of a policy file, which must be UTF-8.
    ///
    /// An empty file is not read: Foundation's file reading (`String(contentsOfFile:)`,
    /// `FileManager.contents(atPath:)`) leaks its 4 KiB read buffer when a file has no bytes
    /// (found by the policy fuzzer), and the reloader reads the bundle on every change.
    static func readPolicyFile(_ path: String) throws(PolicyError) -> String {
        var status = stat()
        if stat(path, &status) == 0, status.st_size == 0 { return "" }
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw PolicyError(SourceLocation(file: path), field: nil, "cannot read the file")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw PolicyError(SourceLocation(file: path), field: nil, "cannot read the file: it is not UTF-8 text")
        }
        return text
    }
}

extension YAMLField {
    func cidr() throws(PolicyError) -> IPNetwork {
        let text = try nonEmptyString()
        switch IPNetwork.parse(text) {
        case .success(let network): return network
        case .failure(.hostBitsSet(let network)):
            throw error("\"\(text)\" has host bits set; did you mean \(network)?")
        case .failure(.invalid):
            throw error("\"\(text)\" is not a CIDR block such as 10.0.0.0/8 or 2001:db8::/32")
        }
    }

    /// A list whose entries are CIDR blocks or names of `networks.yaml` networks.
    func networkReferences(_ named: [String: NetworkSet]) throws(PolicyError) -> [NetworkSet] {
        var sets: [NetworkSet] = []
        for element in try isScalar ? [self] : sequence() {
            let text = try element.nonEmptyString()
            if let set = named[text] {
                sets.append(set)
            } else if text.contains("/") || IPAddress(text) != nil {
                sets.append(NetworkSet(name: text, networks: [try element.cidr()]))
            } else {
                let known = named.keys.sorted().joined(separator: ", ")
                throw element.error("unknown network \"\(text)\"; define it in networks.yaml (known: \(known.isEmpty ? "none" : known)) or write a CIDR block")
            }
        }
        guard !sets.isEmpty else { throw error("needs at least one network") }
        return sets
    }

    func regex() throws(PolicyError) -> RegexPattern {
        let text = try nonEmptyString()
        do {
            return try RegexPattern(text)
        } catch {
            throw self.error(error.message)
        }
    }

    /// `required` or `true` is the short form of `{required: true}`.
    var isRequiredShorthand: Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["required", "true", "yes"].contains(scalar.string.lowercased())
    }
}

extension RoleDefinition {
    static let fields: Set<String> = [
        "name", "description", "audiences", "scopes", "default_duration", "max_duration", "eligible", "allowed_clients", "conditions",
        "signing_alg", "break_glass", "extend",
    ]
    static let conditionFields: Set<String> = [
        "mfa", "strength", "max_auth_age", "device_compliant", "networks", "time_windows", "claims", "justification", "ticket",
        "approval", "on_call",
    ]

    init(field: YAMLField, networks: [String: NetworkSet]) throws(PolicyError) {
        let members = try field.mapping(allowed: Self.fields)
        guard let nameField = members["name"] else { throw field.error("a role needs a \"name\"") }
        let name = try nameField.nonEmptyString()
        guard Self.isValidName(name) else {
            throw nameField.error("role names use lowercase letters, digits, '-', '_' and '.' (at most 64)")
        }
        guard let audiencesField = members["audiences"] else {
            throw field.error("role \"\(name)\" needs at least one entry in audiences (the resource servers its tokens are for)")
        }
        let audiences = try audiencesField.stringList()
        guard !audiences.isEmpty else { throw audiencesField.error("needs at least one audience") }
        var scopes: [String] = []
        if let scopesField = members["scopes"] {
            scopes = try scopesField.stringList()
            if let bad = scopes.first(where: { !ClientDefinition.isValidScope($0) }) {
                throw scopesField.error("\"\(bad)\" is not a valid scope (printable ASCII, no spaces, quotes or backslashes)")
            }
            if let reserved = scopes.first(where: ClientDefinition.isReservedScope) {
                throw scopesField.error(ClientDefinition.reservedScopeMessage(reserved))
            }
        }
        guard let maxField = members["max_duration"] else { throw field.error("role \"\(name)\" needs max_duration (at most 12h)") }
        let maximum = try maxField.durationSeconds()
        guard (1...Self.maximumDuration).contains(maximum) else { throw maxField.error("max_duration must be between 1s and 12h") }
        var defaultDuration = maximum
        if let defaultField = members["default_duration"] {
            defaultDuration = try defaultField.durationSeconds()
            guard defaultDuration >= 1, defaultDuration <= maximum else {
                throw defaultField.error("default_duration must be at least 1s and at most max_duration (\(DurationText.format(maximum)))")
            }
        }
        var eligibility = Eligibility()
        if let eligibleField = members["eligible"], !eligibleField.isNull {
            eligibility = try Eligibility(field: eligibleField)
        }
        var allowedClients: [String]?
        if let clientsField = members["allowed_clients"] {
            let clients = try clientsField.stringList()
            guard !clients.isEmpty else { throw clientsField.error("list at least one client, or remove allowed_clients to allow any") }
            allowedClients = clients
        }
        var conditions = RoleConditions()
        if let conditionsField = members["conditions"], !conditionsField.isNull {
            conditions = try Self.conditions(conditionsField, networks: networks)
        }
        self.init(name: name, description: try members["description"]?.string(), audiences: audiences, scopes: scopes,
                  defaultDurationSeconds: defaultDuration, maxDurationSeconds: maximum, eligibility: eligibility,
                  allowedClients: allowedClients, conditions: conditions, location: field.location,
                  signingAlgorithm: try members["signing_alg"]?.signingAlgorithm(),
                  breakGlass: try members["break_glass"].map { (field) throws(PolicyError) in try BreakGlassPolicy(field: field, roleMaximum: maximum) },
                  extensionPolicy: try members["extend"].map { (field) throws(PolicyError) in try ExtensionPolicy(field: field) })
    }

    private static func conditions(_ field: YAMLField, networks: [String: NetworkSet]) throws(PolicyError) -> RoleConditions {
        let members = try field.mapping(allowed: conditionFields)
        var conditions = RoleConditions()
        if let mfa = members["mfa"] {
            if mfa.isMapping {
                let fields = try mfa.mapping(allowed: ["amr", "acr"])
                let methods = try fields["amr"]?.stringList() ?? MFACondition.defaultMethods
                conditions.mfa = MFACondition(methods: methods, contexts: try fields["acr"]?.stringList() ?? [])
            } else if try mfa.bool() {
                conditions.mfa = MFACondition()
            }
        }
        if let strength = members["strength"] {
            let value = try strength.string()
            guard value == "phishing_resistant" else { throw strength.error("expected phishing_resistant") }
            conditions.phishingResistant = StrengthCondition()
        }
        if let age = members["max_auth_age"] {
            let seconds = try age.durationSeconds()
            guard seconds >= 1 else { throw age.error("must be at least 1s") }
            conditions.maxAuthAgeSeconds = seconds
        }
        if let device = members["device_compliant"] {
            conditions.deviceCompliant = try device.bool()
        }
        if let list = members["networks"] {
            conditions.networks = try list.networkReferences(networks)
        }
        if let windows = members["time_windows"] {
            var parsed: [TimeWindow] = []
            for element in try windows.isMapping ? [windows] : windows.sequence() {
                parsed.append(try timeWindow(element))
            }
            guard !parsed.isEmpty else { throw windows.error("needs at least one window") }
            conditions.timeWindows = parsed
        }
        if let claims = members["claims"] {
            for (claim, test) in try claims.entries() {
                conditions.claims.append(ClaimCondition(claim: claim, test: try claimTest(test)))
            }
        }
        if let justification = members["justification"] {
            if justification.isRequiredShorthand {
                conditions.justification = JustificationCondition()
            } else if justification.isMapping {
                let fields = try justification.mapping(allowed: ["required", "min_length", "max_length"])
                if try fields["required"]?.bool() ?? true {
                    let minimum = try fields["min_length"]?.integer() ?? 1
                    let maximum = try fields["max_length"]?.integer() ?? JustificationCondition.defaultMaximumLength
                    guard minimum >= 1, maximum >= minimum, maximum <= 10_000 else {
                        throw justification.error("need 1 <= min_length <= max_length <= 10000")
                    }
                    conditions.justification = JustificationCondition(minimumLength: minimum, maximumLength: maximum)
                }
            } else if try justification.bool() {
                conditions.justification = JustificationCondition()
            }
        }
        if let ticket = members["ticket"] {
            if ticket.isRequiredShorthand {
                conditions.ticket = TicketCondition(required: true)
            } else {
                let fields = try ticket.mapping(allowed: ["required", "pattern"])
                let pattern = try fields["pattern"].map { (field) throws(PolicyError) in try field.regex() }
                conditions.ticket = TicketCondition(required: try fields["required"]?.bool() ?? true, pattern: pattern)
            }
        }
        if let approval = members["approval"] {
            conditions.approval = try ApprovalPlan(field: approval)
        }
        if let onCall = members["on_call"] {
            conditions.onCall = try OnCallCondition(field: onCall)
        }
        return conditions
    }

    private static func claimTest(_ field: YAMLField) throws(PolicyError) -> ClaimCondition.Test {
        if field.isScalar {
            switch try field.string() {
            case "present": return .present
            case "absent": return .absent
            default: throw field.error("expected present, absent, or one of {equals, one_of, glob, regex}")
            }
        }
        let fields = try field.mapping(allowed: ["equals", "one_of", "glob", "regex"])
        guard fields.count == 1, let entry = fields.first else {
            throw field.error("give exactly one of equals, one_of, glob, regex")
        }
        let value = entry.value
        switch entry.key {
        case "equals": return .equals(try value.string())
        case "one_of":
            let values = try value.stringList()
            guard !values.isEmpty else { throw value.error("needs at least one value") }
            return .oneOf(values)
        case "glob": return .glob(GlobPattern(try value.nonEmptyString()))
        default: return .regex(try value.regex())
        }
    }

    private static func timeWindow(_ field: YAMLField) throws(PolicyError) -> TimeWindow {
        let fields = try field.mapping(allowed: ["days", "hours", "time_zone"])
        var mask: UInt8 = 0x7F
        if let days = fields["days"] {
            mask = 0
            for element in try days.isScalar ? [days] : days.sequence() {
                let text = try element.nonEmptyString().lowercased()
                let bounds = text.split(separator: "-", maxSplits: 1).map(String.init)
                guard let first = weekday(bounds[0]), let last = weekday(bounds.count == 2 ? bounds[1] : bounds[0]) else {
                    throw element.error("expected a day (mon, tue, wed, thu, fri, sat, sun) or a range such as mon-fri")
                }
                var day = first
                while true {
                    mask |= 1 << UInt8(day)
                    if day == last { break }
                    day = (day + 1) % 7
                }
            }
        }
        var start = 0
        var end = 1440
        if let hours = fields["hours"] {
            let text = try hours.string()
            let parts = text.split(separator: "-", maxSplits: 1)
            guard parts.count == 2, let from = clockMinutes(parts[0]), let to = clockMinutes(parts[1]), from < 1440 else {
                throw hours.error("expected HH:MM-HH:MM such as 08:00-18:00 or 22:00-06:00, got \"\(text)\"")
            }
            guard from != to else { throw hours.error("start and end are equal; remove hours for the whole day") }
            start = from
            end = to
        }
        var zone = TimeZone(identifier: "UTC")!
        var zoneName = "UTC"
        if let zoneField = fields["time_zone"] {
            let identifier = try zoneField.nonEmptyString()
            guard let parsed = TimeZone(identifier: identifier) else {
                throw zoneField.error("unknown time zone \"\(identifier)\"; use an IANA name such as Europe/Berlin or UTC")
            }
            zone = parsed
            zoneName = identifier
        }
        return TimeWindow(dayMask: mask, startMinute: start, endMinute: end, timeZone: zone, timeZoneName: zoneName)
    }

    private static func weekday(_ name: String) -> Int? {
        let names = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
        return names.firstIndex { $0 == name || $0.prefix(3) == name }
    }

    /// `08:00` -> 480; `24:00` is accepted as the end of the day.
    private static func clockMinutes(_ text: Substring) -> Int? {
        let parts = text.trimmingSpaces.split(separator: ":")
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
              let hours = Int(parts[0]), let minutes = Int(parts[1]), (0...24).contains(hours), (0..<60).contains(minutes),
              hours * 60 + minutes <= 1440
        else { return nil }
        return hours * 60 + minutes
    }
}
