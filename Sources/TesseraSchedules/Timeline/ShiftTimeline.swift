import Foundation

/// Who is on call when, resolved once over a window so that each question is a binary search.
///
/// Native schedules and iCalendar feeds both end up here: a native schedule has at most one
/// person on call at a time, a feed may have several (overlapping events), so every answer is
/// a list. Each person's shifts are merged where they touch or overlap, so "until when" is the
/// end of the whole stretch on call, not of one turn or one event.
///
/// Edge cases, on purpose:
/// - Shifts are clipped to `window`; an instant outside it has nobody on call, and a shift that
///   reaches `window.upperBound` may continue past it (build with a window longer than the
///   questions you ask: `until` can be no later than the window's end).
/// - People compare case-insensitively (e-mail addresses do in practice; paging-system ids
///   never differ only by case); answers use the spelling first seen.
/// - Empty shifts (start >= end) cover nothing and are dropped.
public struct ShiftTimeline: Sendable {
    public let window: Range<Date>

    /// Merged shifts, sorted by start, then person.
    public let shifts: [Shift]

    /// Person index by exact spelling and by lower-cased spelling: the exact entry makes the
    /// usual lookup a single hash, the lower-cased one makes it case-insensitive.
    private let personIndex: [String: Int]
    /// Per person: starts and ends of their merged shifts (seconds since 1970), sorted.
    private let starts: [[Double]]
    private let ends: [[Double]]
    /// Per person: the index in `shifts` of each of their merged shifts.
    private let shiftIndex: [[Int]]
    /// Elementary segments for "who is on call": segment i is
    /// [segmentStarts[i], segmentStarts[i + 1]) and holds
    /// members[memberOffsets[i] ..< memberOffsets[i + 1]] (indices into `shifts`).
    private let segmentStarts: [Double]
    private let memberOffsets: [Int]
    private let members: [Int]

    public init(shifts input: some Sequence<Shift>, window: Range<Date>) {
        self.window = window
        let low = window.lowerBound.timeIntervalSince1970
        let high = window.upperBound.timeIntervalSince1970

        // Group by person (case-insensitively), clip to the window.
        var index: [String: Int] = [:]
        var names: [String] = []
        var intervals: [[(Double, Double)]] = []
        for shift in input {
            let start = max(shift.start.timeIntervalSince1970, low)
            let end = min(shift.end.timeIntervalSince1970, high)
            guard start < end else { continue }
            let key = shift.person.lowercased()
            let person: Int
            if let known = index[key] {
                person = known
            } else {
                person = names.count
                index[key] = person
                names.append(shift.person)
                intervals.append([])
            }
            intervals[person].append((start, end))
        }
        for (person, name) in names.enumerated() where index[name] == nil {
            index[name] = person
        }

        // Merge each person's touching or overlapping shifts.
        var merged: [(person: Int, start: Double, end: Double)] = []
        for (person, list) in intervals.enumerated() {
            var current: (Double, Double)?
            for interval in list.sorted(by: { $0.0 < $1.0 }) {
                if let (start, end) = current, interval.0 <= end {
                    current = (start, max(end, interval.1))
                } else {
                    if let (start, end) = current { merged.append((person, start, end)) }
                    current = interval
                }
            }
            if let (start, end) = current { merged.append((person, start, end)) }
        }
        merged.sort { ($0.start, names[$0.person]) < ($1.start, names[$1.person]) }

        var starts = Array(repeating: [Double](), count: names.count)
        var ends = starts
        var shiftIndex = Array(repeating: [Int](), count: names.count)
        for (i, shift) in merged.enumerated() {
            starts[shift.person].append(shift.start)
            ends[shift.person].append(shift.end)
            shiftIndex[shift.person].append(i)
        }
        // `merged` is sorted by start, so each person's arrays are too.

        // Sweep the boundaries into elementary segments.
        var events: [(time: Double, opens: Bool, shift: Int)] = []
        events.reserveCapacity(merged.count * 2)
        for (i, shift) in merged.enumerated() {
            events.append((shift.start, true, i))
            events.append((shift.end, false, i))
        }
        events.sort { $0.time < $1.time }
        var segmentStarts: [Double] = []
        var memberOffsets: [Int] = [0]
        var members: [Int] = []
        var active: [Int] = []
        var e = 0
        while e < events.count {
            let time = events[e].time
            while e < events.count, events[e].time == time {
                if events[e].opens {
                    active.append(events[e].shift)
                } else if let at = active.firstIndex(of: events[e].shift) {
                    active.remove(at: at)
                }
                e += 1
            }
            segmentStarts.append(time)
            members.append(contentsOf: active.sorted())
            memberOffsets.append(members.count)
        }

        self.shifts = merged.map {
            Shift(person: names[$0.person], start: Date(timeIntervalSince1970: $0.start), end: Date(timeIntervalSince1970: $0.end))
        }
        self.personIndex = index
        self.starts = starts
        self.ends = ends
        self.shiftIndex = shiftIndex
        self.segmentStarts = segmentStarts
        self.memberOffsets = memberOffsets
        self.members = members
    }

    /// Everyone on call at `instant`, each with their merged shift (so `end` is "until when"),
    /// in the order of `shifts`.
    public func onCall(at instant: Date) -> [Shift] {
        let t = instant.timeIntervalSince1970
        guard let segment = lastIndex(atOrBefore: t, in: segmentStarts) else { return [] }
        return members[memberOffsets[segment]..<memberOffsets[segment + 1]].map { shifts[$0] }
    }

    /// The merged shift of `person` at `instant`, or nil when they are not on call then.
    public func shift(of person: String, at instant: Date) -> Shift? {
        guard let p = self.person(person), let i = interval(of: p, at: instant.timeIntervalSince1970) else { return nil }
        return shifts[shiftIndex[p][i]]
    }

    /// Whether `person` is on call at `instant`: the hot path of the on-call condition (one
    /// hash lookup and one binary search, no allocation for an exactly spelt name).
    public func isOnCall(_ person: String, at instant: Date) -> Bool {
        guard let p = self.person(person) else { return false }
        return interval(of: p, at: instant.timeIntervalSince1970) != nil
    }

    /// The next shift of `person` starting after `instant`, e.g. to say when they are next on.
    public func nextShift(of person: String, after instant: Date) -> Shift? {
        guard let p = self.person(person) else { return nil }
        let t = instant.timeIntervalSince1970
        let next = (lastIndex(atOrBefore: t, in: starts[p]) ?? -1) + 1
        return next < starts[p].count ? shifts[shiftIndex[p][next]] : nil
    }

    /// Everyone who has a shift in the window (spelling first seen), e.g. to check that each
    /// maps to an identity.
    public var people: [String] {
        var seen = Set<String>()
        return shifts.compactMap { seen.insert($0.person).inserted ? $0.person : nil }
    }

    private func person(_ name: String) -> Int? {
        personIndex[name] ?? personIndex[name.lowercased()]
    }

    private func interval(of person: Int, at t: Double) -> Int? {
        guard let i = lastIndex(atOrBefore: t, in: starts[person]), t < ends[person][i] else { return nil }
        return i
    }
}

/// The index of the last element <= `value` in an ascending array, nil when there is none.
@inline(__always)
func lastIndex(atOrBefore value: Double, in sorted: [Double]) -> Int? {
    var low = 0
    var high = sorted.count
    while low < high {
        let mid = (low + high) >> 1
        if sorted[mid] <= value { low = mid + 1 } else { high = mid }
    }
    return low == 0 ? nil : low - 1
}
