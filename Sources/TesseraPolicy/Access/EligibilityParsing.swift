import Foundation

extension Eligibility {
    static let fields: Set<String> = ["upstreams", "groups", "subjects", "time_zone", "max_assignment"]
    static let entryFields: Set<String> = ["id", "from", "until", "sponsor", "reason"]

    /// A role's `eligible:`. `subjects` and `groups` entries are plain (a subject or glob, a
    /// group name) or dated: `{id, from, until, sponsor, reason}`, where a dated subject is
    /// `upstream:subject` exactly and dates are RFC 3339 times, or dates (whole days in
    /// `time_zone`, default UTC: `from` at the day's start, `until` through the day's end).
    init(field: YAMLField) throws(PolicyError) {
        let members = try field.mapping(allowed: Self.fields)
        self.init()
        upstreams = try members["upstreams"]?.stringList() ?? []
        let zone = try members["time_zone"]?.timeZone() ?? TimeZone(identifier: "UTC")!
        if let maximum = members["max_assignment"] {
            maximumAssignmentSeconds = try maximum.durationSeconds()
            guard maximumAssignmentSeconds >= 60 else { throw maximum.error("max_assignment must be at least 1m") }
        }
        for entry in try members["subjects"]?.sequence() ?? [] {
            if entry.isMapping {
                dated.append(try Self.datedEntry(entry, zone: zone) { (id, field) throws(PolicyError) in
                    guard let colon = id.firstIndex(of: ":"), colon != id.startIndex, colon != id.index(before: id.endIndex) else {
                        throw field.error("a dated subject is upstream:subject, e.g. partner-idp:dana@contractor.example")
                    }
                    return .subject(id)
                })
            } else {
                subjects.append(GlobPattern(try entry.nonEmptyString()))
            }
        }
        for entry in try members["groups"]?.sequence() ?? [] {
            if entry.isMapping {
                dated.append(try Self.datedEntry(entry, zone: zone) { (name, _) throws(PolicyError) in .group(name) })
            } else {
                groups.append(try entry.nonEmptyString())
            }
        }
    }

    private static func datedEntry(_ field: YAMLField, zone: TimeZone,
                                   who: (String, YAMLField) throws(PolicyError) -> DatedEligibility.Who) throws(PolicyError) -> DatedEligibility {
        let members = try field.mapping(allowed: entryFields)
        guard let idField = members["id"] else { throw field.error("a dated entry needs an id (the subject or group)") }
        let name = try who(try idField.nonEmptyString(), idField)
        let from = try members["from"].map { (field) throws(PolicyError) in try field.eligibilityDate(zone: zone, endOfDay: false) }
        let until = try members["until"].map { (field) throws(PolicyError) in try field.eligibilityDate(zone: zone, endOfDay: true) }
        if let from, let until, until.date <= from.date {
            throw (members["until"] ?? field).error("until (\(until.text)) is not after from (\(from.text))")
        }
        return DatedEligibility(who: name, from: from?.date, until: until?.date, sponsor: try members["sponsor"]?.nonEmptyString(),
                                reason: try members["reason"]?.nonEmptyString(), fromText: from?.text, untilText: until?.text,
                                location: field.location)
    }
}

extension YAMLField {
    /// `2026-12-31` (a whole day in `zone`: its start, or with `endOfDay` the next day's
    /// start) or an RFC 3339 time; with the text as written, for reasons.
    func eligibilityDate(zone: TimeZone, endOfDay: Bool) throws(PolicyError) -> (date: Date, text: String) {
        let text = try nonEmptyString()
        if let date = RFC3339.date(text) { return (date, text) }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              let start = calendar.date(from: DateComponents(year: year, month: month, day: day)),
              calendar.component(.day, from: start) == day, calendar.component(.month, from: start) == month
        else { throw error("expected a date such as 2026-12-31 or an RFC 3339 time such as 2026-12-31T18:00:00Z") }
        guard endOfDay else { return (start, text) }
        return (calendar.date(byAdding: .day, value: 1, to: start) ?? start, text)
    }
}

extension PolicyBundle {
    /// A dated subject names an upstream of the bundle, one the role admits.
    static func checkDatedEligibility(_ bundle: PolicyBundle) throws(PolicyError) {
        let known = Set(bundle.upstreams.map(\.id) + [UpstreamDefinition.developmentID])
        for role in bundle.roles {
            for entry in role.eligibility.dated {
                guard case .subject(let id) = entry.who, let colon = id.firstIndex(of: ":") else { continue }
                let upstream = String(id[..<colon])
                let location = entry.location ?? role.location
                guard known.contains(upstream) else {
                    throw PolicyError(location, field: "eligible.subjects", "\(id) names upstream \(upstream), which upstreams.yaml does not declare")
                }
                if !role.eligibility.upstreams.isEmpty, !role.eligibility.upstreams.contains(upstream) {
                    throw PolicyError(location, field: "eligible.subjects",
                                      "\(id) is from upstream \(upstream), which eligible.upstreams of role \(role.name) does not admit")
                }
            }
        }
    }

    /// `tessera policy check`'s warnings: dated entries already over at `now`, with where.
    public func expiredEligibility(at now: Date) -> [String] {
        roles.flatMap { role in
            role.eligibility.dated.compactMap { entry -> String? in
                guard let until = entry.until, until <= now else { return nil }
                return "\(entry.location ?? role.location): eligibility of \(entry.who) for role \(role.name) ended \(entry.untilText ?? "")"
                    + entry.provenance + "; remove the entry"
            }
        }
    }
}
