import Foundation
import TesseraSchedules

extension PolicyBundle {
    /// Every `*.yaml` (or `*.yml`) of `schedules/`, in name order; ids are unique across them.
    static func loadSchedules(directory: String) throws(PolicyError) -> OnCallConfiguration {
        let folder = (directory as NSString).appendingPathComponent(OnCallConfiguration.directoryName)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            return OnCallConfiguration()
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
                .filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !isScratchFile($0) }.sorted()
        } catch {
            throw PolicyError(SourceLocation(file: folder), field: nil, "cannot list the folder: \(error.localizedDescription)")
        }
        var configuration = OnCallConfiguration()
        for name in names {
            let path = (folder as NSString).appendingPathComponent(name)
            try parseSchedules(try readPolicyFile(path), file: path, directory: folder, into: &configuration)
        }
        try checkEscalationPolicies(configuration)
        if configuration.pagerDuty == nil, let feed = configuration.feeds.first(where: \.isPagerDuty) {
            throw PolicyError(feed.location, field: "\(feed.id).pagerduty",
                              "a pagerduty schedule or escalation policy needs the pagerduty connection (base_url, token_file or token_env) in a schedules file")
        }
        return configuration
    }

    /// One schedules file, merged into `configuration`.
    public static func parseSchedules(_ text: String, file: String, directory: String,
                                      into configuration: inout OnCallConfiguration) throws(PolicyError) {
        guard let root = try parseYAMLDocument(text, file: file), !root.isNull else { return }
        let members = try root.mapping(allowed: ["schedules", "escalation_policies", "people", "pagerduty"])
        if let connection = members["pagerduty"] {
            guard configuration.pagerDuty == nil else { throw connection.error("pagerduty is configured in another schedules file already") }
            configuration.pagerDuty = try pagerDutyConnection(connection, directory: directory)
        }
        if let people = members["people"] { try peopleMapping(people, into: &configuration.people) }
        var seen = Set(configuration.scheduleIDs)
        for field in try members["schedules"]?.sequence() ?? [] {
            let fields = try field.mapping(allowed: ["id", "time_zone", "layers", "overrides", "ical", "pagerduty", "poll_interval",
                                                     "max_staleness"])
            guard let idField = fields["id"] else { throw field.error("a schedule needs an id") }
            let id = try idField.nonEmptyString()
            guard RoleDefinition.isValidName(id) else { throw idField.error("a schedule id is lowercase letters, digits, '.', '_' and '-'") }
            guard seen.insert(id).inserted else { throw idField.error("schedule \(id) is declared twice") }
            let zone = try fields["time_zone"].map { (zoneField) throws(PolicyError) in try zoneField.timeZone() } ?? TimeZone(identifier: "UTC")!
            let imported = ["ical", "pagerduty"].filter { fields[$0] != nil }
            if imported.isEmpty {
                configuration.native.append(try nativeSchedule(id: id, zone: zone, fields: fields, field: field))
            } else {
                guard imported.count == 1, fields["layers"] == nil, fields["overrides"] == nil else {
                    throw field.error("a schedule has layers (native), or ical, or pagerduty: one of them")
                }
                configuration.feeds.append(try feed(id: id, zone: zone, fields: fields, field: field, directory: directory))
            }
        }
        var policyIDs = Set(configuration.escalationPolicies.map(\.id))
        for field in try members["escalation_policies"]?.sequence() ?? [] {
            let fields = try field.mapping(allowed: ["id", "levels", "pagerduty", "time_zone", "poll_interval", "max_staleness"])
            guard let idField = fields["id"] else { throw field.error("an escalation policy needs an id") }
            let id = try idField.nonEmptyString()
            guard RoleDefinition.isValidName(id) else { throw idField.error("a policy id is lowercase letters, digits, '.', '_' and '-'") }
            guard policyIDs.insert(id).inserted else { throw idField.error("escalation policy \(id) is declared twice") }
            if let pagerDuty = fields["pagerduty"] {
                try importEscalationPolicy(id: id, pagerDuty, fields: fields, field: field, into: &configuration)
                continue
            }
            guard let levelsField = fields["levels"] else { throw field.error("an escalation policy needs levels (or pagerduty to import one)") }
            if let stray = fields["time_zone"] ?? fields["poll_interval"] ?? fields["max_staleness"] {
                throw stray.error("only an escalation policy imported from PagerDuty has time_zone, poll_interval or max_staleness")
            }
            var levels: [EscalationLevel] = []
            for levelField in try levelsField.sequence() {
                let level = try levelField.mapping(allowed: ["schedules", "people"])
                let targets = try (level["schedules"]?.stringList() ?? []).map(EscalationTarget.schedule)
                    + (level["people"]?.stringList() ?? []).map(EscalationTarget.person)
                guard !targets.isEmpty else { throw levelField.error("a level names schedules, people or both") }
                levels.append(EscalationLevel(targets: targets))
            }
            do {
                configuration.escalationPolicies.append(try EscalationPolicy(id: id, levels: levels))
            } catch {
                throw levelsField.error(error.message)
            }
        }
    }

    /// `pagerduty: {escalation_policy_id: P..., levels: N}`: levels 1 to N of a PagerDuty
    /// escalation policy, each synced as a schedule of its own (`ID.level-K`, everyone PagerDuty
    /// has on call at that level), and an escalation policy over them.
    private static func importEscalationPolicy(id: String, _ pagerDuty: YAMLField, fields: [String: YAMLField], field: YAMLField,
                                               into configuration: inout OnCallConfiguration) throws(PolicyError) {
        if let levels = fields["levels"] { throw levels.error("an imported escalation policy takes its levels from PagerDuty: give pagerduty.levels") }
        let settings = try pagerDuty.mapping(allowed: ["escalation_policy_id", "levels"])
        guard let policyField = settings["escalation_policy_id"], let countField = settings["levels"] else {
            throw pagerDuty.error("pagerduty needs escalation_policy_id and levels (how many levels to import, from 1)")
        }
        let policyID = try policyField.nonEmptyString()
        let count = try countField.integer()
        guard (1...maximumImportedLevels).contains(count) else {
            throw countField.error("levels is how many levels to import: 1 to \(maximumImportedLevels)")
        }
        let zone = try fields["time_zone"]?.timeZone() ?? TimeZone(identifier: "UTC")!
        let (poll, staleness) = try pollSettings(fields, field: field)
        var levels: [EscalationLevel] = []
        for level in 1...count {
            let schedule = "\(id).level-\(level)"
            guard !configuration.scheduleIDs.contains(schedule) else {
                throw field.error("escalation policy \(id) imports its level \(level) as schedule \(schedule), which is declared already")
            }
            configuration.feeds.append(.init(id: schedule, source: .pagerDutyEscalationLevel(policyID: policyID, level: level), timeZone: zone,
                                             people: [], pollSeconds: poll, maximumStalenessSeconds: staleness, location: field.location))
            levels.append(EscalationLevel(targets: [.schedule(schedule)]))
        }
        do {
            configuration.escalationPolicies.append(try EscalationPolicy(id: id, levels: levels))
        } catch {
            throw field.error(error.message)
        }
    }

    /// PagerDuty allows more, but a condition past the tenth level says nothing useful.
    static let maximumImportedLevels = 10

    /// `poll_interval` and `max_staleness` of an imported schedule, checked.
    private static func pollSettings(_ fields: [String: YAMLField], field: YAMLField) throws(PolicyError) -> (poll: Int, staleness: Int) {
        let poll = try fields["poll_interval"]?.durationSeconds() ?? OnCallConfiguration.defaultPollSeconds
        if poll < 10 { throw (fields["poll_interval"] ?? field).error("poll_interval is at least 10s") }
        let staleness = try fields["max_staleness"]?.durationSeconds() ?? OnCallConfiguration.defaultMaximumStalenessSeconds
        guard staleness > poll else {
            throw (fields["max_staleness"] ?? field).error("max_staleness must be longer than poll_interval (\(DurationText.format(poll)))")
        }
        return (poll, staleness)
    }

    /// Every schedule an escalation policy names exists (in any file).
    private static func checkEscalationPolicies(_ configuration: OnCallConfiguration) throws(PolicyError) {
        let known = Set(configuration.scheduleIDs)
        for policy in configuration.escalationPolicies {
            for (number, level) in policy.levels.enumerated() {
                for case .schedule(let id) in level.targets where !known.contains(id) {
                    throw PolicyError(SourceLocation(file: OnCallConfiguration.directoryName), field: "escalation_policies.\(policy.id)",
                                      "level \(number + 1) names schedule \(id), which no schedules file declares")
                }
            }
        }
    }

    private static func nativeSchedule(id: String, zone: TimeZone, fields: [String: YAMLField],
                                       field: YAMLField) throws(PolicyError) -> OnCallConfiguration.NativeSchedule {
        guard let layersField = fields["layers"] else { throw field.error("schedule \(id) needs layers (or ical, or pagerduty)") }
        if let stray = fields["poll_interval"] ?? fields["max_staleness"] {
            throw stray.error("only imported schedules (ical, pagerduty) are polled")
        }
        var layers: [Layer] = []
        for layerField in try layersField.sequence() {
            let layer = try layerField.mapping(allowed: ["name", "participants", "rotation_start", "turn", "handoff", "restrictions", "start", "end"])
            guard let participants = layer["participants"], let anchor = layer["rotation_start"], let turn = layer["turn"] else {
                throw layerField.error("a layer needs participants, rotation_start and turn")
            }
            do {
                layers.append(try Layer(
                    name: try layer["name"]?.nonEmptyString(), participants: try participants.stringList(),
                    rotationStart: try anchor.timestamp(), turnLength: try turn.scheduleValue(TurnLength.init(parsing:)),
                    handoffTime: try layer["handoff"]?.scheduleValue(TimeOfDay.init(parsing:)),
                    restrictions: try (layer["restrictions"]?.sequence() ?? []).map { (restriction) throws(PolicyError) in
                        try restriction.scheduleValue(Restriction.init(parsing:))
                    },
                    start: try layer["start"]?.timestamp(), end: try layer["end"]?.timestamp()))
            } catch let error as PolicyError {
                throw error
            } catch {
                throw layerField.error("\(error)")
            }
        }
        var overrides: [Override] = []
        for overrideField in try fields["overrides"]?.sequence() ?? [] {
            let override = try overrideField.mapping(allowed: ["who", "from", "to"])
            guard let who = override["who"], let from = override["from"], let to = override["to"] else {
                throw overrideField.error("an override needs who, from and to")
            }
            let start = try from.timestamp(), end = try to.timestamp()
            guard start < end else { throw to.error("to must be after from") }
            overrides.append(Override(person: try who.nonEmptyString(), start: start, end: end))
        }
        do {
            return .init(schedule: try Schedule(id: id, timeZone: zone, layers: layers, overrides: overrides), location: field.location)
        } catch {
            throw field.error(error.message)
        }
    }

    private static func feed(id: String, zone: TimeZone, fields: [String: YAMLField], field: YAMLField,
                             directory: String) throws(PolicyError) -> OnCallConfiguration.ScheduleFeed {
        let source: OnCallConfiguration.ScheduleFeed.Source
        var people: [EventPerson] = [.attendee, .summary(.pagerDuty)]
        if let ical = fields["ical"] {
            let settings = try ical.mapping(allowed: ["url", "file", "person"])
            if let url = settings["url"] {
                let text = try url.nonEmptyString()
                guard UpstreamDefinition.isAcceptableURL(text) else { throw url.error("must be an https URL (http only on loopback)") }
                guard settings["file"] == nil else { throw ical.error("give url or file, not both") }
                source = .iCalendarURL(text)
            } else if let file = settings["file"] {
                let path = try file.nonEmptyString()
                source = .iCalendarFile(path: path.hasPrefix("/") ? path : (directory as NSString).appendingPathComponent(path))
            } else {
                throw ical.error("ical needs url or file")
            }
            if let person = settings["person"] {
                if person.isScalar {
                    guard try person.string() == "attendee" else { throw person.error("expected attendee or {summary: PATTERN}") }
                    people = [.attendee]
                } else {
                    let summary = try person.mapping(allowed: ["summary"])
                    guard let pattern = summary["summary"] else { throw person.error("expected attendee or {summary: PATTERN}") }
                    people = [.summary(try pattern.scheduleValue(SummaryPattern.init))]
                }
            }
        } else {
            let settings = try fields["pagerduty"]!.mapping(allowed: ["schedule_id"])
            guard let scheduleID = settings["schedule_id"] else { throw fields["pagerduty"]!.error("pagerduty needs schedule_id") }
            source = .pagerDutySchedule(id: try scheduleID.nonEmptyString())
            people = []
        }
        let (poll, staleness) = try pollSettings(fields, field: field)
        return .init(id: id, source: source, timeZone: zone, people: people, pollSeconds: poll, maximumStalenessSeconds: staleness,
                     location: field.location)
    }

    private static func pagerDutyConnection(_ field: YAMLField, directory: String) throws(PolicyError) -> OnCallConfiguration.PagerDutyConnection {
        let members = try field.mapping(allowed: ["base_url", "token_file", "token_env"])
        let baseURL = try members["base_url"]?.nonEmptyString() ?? OnCallConfiguration.PagerDutyConnection.defaultBaseURL
        guard UpstreamDefinition.isAcceptableURL(baseURL) else { throw members["base_url"]!.error("must be an https URL (http only on loopback)") }
        let token: OnCallConfiguration.PagerDutyConnection.Token
        switch (members["token_file"], members["token_env"]) {
        case (let file?, nil):
            let path = try file.nonEmptyString()
            token = .file(path.hasPrefix("/") ? path : (directory as NSString).appendingPathComponent(path))
        case (nil, let name?): token = .environment(try name.nonEmptyString())
        default: throw field.error("pagerduty needs token_file or token_env (one of them): the API token is never written in the bundle")
        }
        return .init(baseURL: baseURL, token: token, location: field.location)
    }

    private static func peopleMapping(_ field: YAMLField, into mapping: inout PeopleMapping) throws(PolicyError) {
        let members = try field.mapping(allowed: ["match", "aliases"])
        if let match = members["match"] {
            var kinds: [PeopleMapping.Match] = []
            for name in try match.stringList() {
                guard let kind = PeopleMapping.Match(rawValue: name) else { throw match.error("expected email, subject or both") }
                kinds.append(kind)
            }
            mapping.match = kinds
        }
        for (participant, target) in try members["aliases"]?.entries() ?? [] {
            let subject = try target.nonEmptyString()
            guard subject.contains(":") else { throw target.error("an alias names an identity as upstream:subject, e.g. corp:alice@example.com") }
            guard mapping.aliases[participant] == nil else { throw target.error("\(participant) has an alias already") }
            mapping.aliases[participant] = subject
        }
    }
}

extension YAMLField {
    /// An RFC 3339 time with its offset (`2026-03-02T09:00:00+01:00`).
    func timestamp() throws(PolicyError) -> Date {
        let text = try nonEmptyString()
        guard let date = RFC3339.date(text) else { throw error("expected an RFC 3339 time such as 2026-03-02T09:00:00+01:00") }
        return date
    }

    /// An IANA time zone name.
    func timeZone() throws(PolicyError) -> TimeZone {
        let identifier = try nonEmptyString()
        guard let zone = TimeZone(identifier: identifier) else {
            throw error("unknown time zone \"\(identifier)\"; use an IANA name such as Europe/Berlin or UTC")
        }
        return zone
    }

    /// A value TesseraSchedules parses from text (`1w`, `09:00`, `mon 09:00 - fri 18:00`),
    /// its refusal reported at this field.
    func scheduleValue<T>(_ parse: (String) throws(ScheduleError) -> T) throws(PolicyError) -> T {
        let text = try nonEmptyString()
        do {
            return try parse(text)
        } catch {
            throw self.error(error.message)
        }
    }
}
