import Foundation
import Testing
import TesseraSchedules

// 2026-03-02 is a Monday. Europe/Berlin: summer time from 2026-03-29 02:00 (clocks jump to
// 03:00) to 2026-10-25 03:00 (clocks go back to 02:00). America/New_York: from 2026-03-08 02:00
// (to 03:00) to 2026-11-01 02:00 (back to 01:00).

@Suite("rotations")
struct RotationTests {
    // MARK: daily and weekly

    @Test func dailyRotationHandsOffAtTheAnchorTimeInTurn() throws {
        let t = try timeline(berlin, [layer(["ann", "bob", "cem"], from: "2026-03-02T09:00:00+01:00")])
        #expect(t.who("2026-03-02T09:00:00+01:00") == "ann")
        #expect(t.until("2026-03-02T12:00:00+01:00") == at("2026-03-03T09:00:00+01:00"))
        #expect(t.who("2026-03-03T10:00:00+01:00") == "bob")
        #expect(t.who("2026-03-04T10:00:00+01:00") == "cem")
        #expect(t.who("2026-03-05T10:00:00+01:00") == "ann")
    }

    @Test func handOffExactlyAtTheBoundaryBelongsToTheNextPerson() throws {
        let t = try timeline(berlin, [layer(["ann", "bob"], from: "2026-03-02T09:00:00+01:00")])
        #expect(t.who("2026-03-03T08:59:59+01:00") == "ann")
        #expect(t.who("2026-03-03T09:00:00+01:00") == "bob")
        #expect(!t.isOnCall("ann", at: at("2026-03-03T09:00:00+01:00")))
        #expect(t.isOnCall("ann", at: at("2026-03-03T08:59:59.999+01:00")))
        #expect(t.shift(of: "bob", at: at("2026-03-03T09:00:00+01:00"))?.start == at("2026-03-03T09:00:00+01:00"))
    }

    @Test func weeklyRotationWithAHandOffTimeOfDay() throws {
        // Anchored on Monday 2 March at midnight UTC, handing off at 10:00 New York time.
        let t = try timeline(newYork, [layer(["ann", "bob"], from: "2026-03-02T00:00:00Z", turn: .weeks(1), handoff: "10:00")])
        // The anchor is 10:00 local on the anchor's local date (1 March in New York).
        #expect(t.who("2026-03-01T10:00:00-05:00") == "ann")
        #expect(t.who("2026-03-08T09:59:59-04:00") == "ann")
        #expect(t.who("2026-03-08T10:00:00-04:00") == "bob")
        #expect(t.until("2026-03-09T12:00:00-04:00") == at("2026-03-15T10:00:00-04:00"))
        #expect(t.who("2026-03-15T10:00:00-04:00") == "ann")
    }

    @Test func turnsBeforeTheRotationStartCycleBackwards() throws {
        // PagerDuty's virtual start may lie after the dates asked about: turn -1 is the last
        // participant's.
        let t = try timeline(berlin, [layer(["ann", "bob", "cem"], from: "2026-03-10T09:00:00+01:00")])
        #expect(t.who("2026-03-09T12:00:00+01:00") == "cem")
        #expect(t.who("2026-03-08T12:00:00+01:00") == "bob")
        #expect(t.who("2026-03-07T12:00:00+01:00") == "ann")
    }

    @Test func layerStartAndEndBoundItsShifts() throws {
        let t = try timeline(berlin, [layer(["ann", "bob"], from: "2026-03-02T09:00:00+01:00",
                                            start: "2026-03-03T12:00:00+01:00", end: "2026-03-05T12:00:00+01:00")])
        #expect(t.who("2026-03-03T11:59:59+01:00") == nil)
        #expect(t.who("2026-03-03T12:00:00+01:00") == "bob")
        #expect(t.who("2026-03-05T11:59:59+01:00") == "bob")
        #expect(t.who("2026-03-05T12:00:00+01:00") == nil)
    }

    @Test func consecutiveShiftsOfOnePersonMergeIntoOneUntil() throws {
        // Alone in the rotation: one stretch, however many turns.
        let solo = try timeline(berlin, [layer(["ann"], from: "2026-03-02T09:00:00+01:00",
                                               start: "2026-03-02T09:00:00+01:00", end: "2026-03-09T09:00:00+01:00")])
        #expect(solo.until("2026-03-03T12:00:00+01:00") == at("2026-03-09T09:00:00+01:00"))
        #expect(solo.shift(of: "ann", at: at("2026-03-05T00:00:00Z"))?.start == at("2026-03-02T09:00:00+01:00"))
    }

    // MARK: elapsed-time turns

    @Test func twelveHourTurnsAreElapsedTimeAcrossDaylightSavingTime() throws {
        let t = try timeline(berlin, [layer(["day", "night"], from: "2026-03-28T08:00:00+01:00", turn: .seconds(12 * 3600))])
        #expect(t.who("2026-03-28T08:00:00+01:00") == "day")
        #expect(t.who("2026-03-28T20:00:00+01:00") == "night")
        // After the clocks go forward the hand-off is at 09:00 and 21:00 on the wall clock.
        #expect(t.who("2026-03-29T08:30:00+02:00") == "night")
        #expect(t.who("2026-03-29T09:00:00+02:00") == "day")
        #expect(t.until("2026-03-29T10:00:00+02:00") == at("2026-03-29T21:00:00+02:00"))
    }

    // MARK: daylight saving time

    @Test func dailyHandOffStaysAtNineInBerlinAcrossSpringForward() throws {
        let t = try timeline(berlin, [layer(["ann", "bob"], from: "2026-03-02T09:00:00+01:00")])
        // 28 March is a 23-hour turn on the wall clock's account: 09:00 CET to 09:00 CEST.
        let turn = try #require(t.shift(of: "ann", at: at("2026-03-28T12:00:00+01:00")))
        #expect(turn.start == at("2026-03-28T09:00:00+01:00"))
        #expect(turn.end == at("2026-03-29T09:00:00+02:00"))
        #expect(turn.end.timeIntervalSince(turn.start) == 23 * 3600)
        #expect(t.who("2026-03-30T09:00:00+02:00") == "ann")
    }

    @Test func dailyHandOffStaysAtNineInBerlinAcrossFallBack() throws {
        let t = try timeline(berlin, [layer(["ann", "bob"], from: "2026-03-02T09:00:00+01:00")])
        let turn = try #require(t.onCall(at: at("2026-10-25T00:00:00Z")).first)
        #expect(turn.start == at("2026-10-24T09:00:00+02:00"))
        #expect(turn.end == at("2026-10-25T09:00:00+01:00"))
        #expect(turn.end.timeIntervalSince(turn.start) == 25 * 3600)
    }

    @Test func weeklyHandOffStaysAtNineInNewYorkAcrossBothChanges() throws {
        let t = try timeline(newYork, [layer(["ann", "bob"], from: "2026-03-02T09:00:00-05:00", turn: .weeks(1))])
        #expect(t.until("2026-03-03T12:00:00-05:00") == at("2026-03-09T09:00:00-04:00"))
        #expect(t.who("2026-03-09T09:00:00-04:00") == "bob")
        #expect(t.who("2026-11-02T08:59:59-05:00") == t.who("2026-10-27T12:00:00-04:00"))
        #expect(t.shift(of: t.who("2026-10-27T12:00:00-04:00")!, at: at("2026-10-27T12:00:00-04:00"))?.end
            == at("2026-11-02T09:00:00-05:00"))
    }

    @Test func handOffAtANonexistentLocalTimeMovesForwardByTheGap() throws {
        // 02:30 does not exist in Berlin on 29 March: the hand-off is at 03:30 CEST (01:30 UTC),
        // then back at 02:30 the next night.
        let berlinDaily = try timeline(berlin, [layer(["ann", "bob"], from: "2026-03-02T00:00:00+01:00", handoff: "02:30")])
        let spring = try #require(berlinDaily.onCall(at: at("2026-03-28T12:00:00+01:00")).first)
        #expect(spring.start == at("2026-03-28T02:30:00+01:00"))
        #expect(spring.end == at("2026-03-29T03:30:00+02:00"))
        #expect(berlinDaily.onCall(at: at("2026-03-29T12:00:00+02:00")).first?.end == at("2026-03-30T02:30:00+02:00"))
        // New York skips 02:00-03:00 on 8 March.
        let newYorkDaily = try timeline(newYork, [layer(["ann", "bob"], from: "2026-03-02T00:00:00-05:00", handoff: "02:30")])
        #expect(newYorkDaily.onCall(at: at("2026-03-07T12:00:00-05:00")).first?.end == at("2026-03-08T03:30:00-04:00"))
        #expect(newYorkDaily.onCall(at: at("2026-03-07T12:00:00-05:00")).first?.end == at("2026-03-08T07:30:00Z"))
    }

    @Test func handOffAtALocalTimeThatOccursTwiceIsItsFirstOccurrence() throws {
        // 02:30 happens twice in Berlin on 25 October: first in CEST (00:30 UTC).
        let berlinDaily = try timeline(berlin, [layer(["ann", "bob"], from: "2026-03-02T00:00:00+01:00", handoff: "02:30")])
        #expect(berlinDaily.onCall(at: at("2026-10-24T12:00:00+02:00")).first?.end == at("2026-10-25T02:30:00+02:00"))
        #expect(berlinDaily.onCall(at: at("2026-10-24T12:00:00+02:00")).first?.end == at("2026-10-25T00:30:00Z"))
        // 01:30 happens twice in New York on 1 November: first in EDT (05:30 UTC).
        let newYorkDaily = try timeline(newYork, [layer(["ann", "bob"], from: "2026-03-02T00:00:00-05:00", handoff: "01:30")])
        #expect(newYorkDaily.onCall(at: at("2026-10-31T12:00:00-04:00")).first?.end == at("2026-11-01T01:30:00-04:00"))
        // The turn after it runs to 01:30 EST the next night: 25 hours.
        let after = try #require(newYorkDaily.onCall(at: at("2026-11-01T12:00:00-05:00")).first)
        #expect(after.end.timeIntervalSince(after.start) == 25 * 3600)
    }

    // MARK: restrictions

    @Test func dailyRestrictionLeavesGapsAndTheRotationKeepsTurning() throws {
        let t = try timeline(berlin, [layer(["ann", "bob"], from: "2026-03-02T00:00:00+01:00", restrictions: ["09:00-18:00"])])
        #expect(t.who("2026-03-02T08:59:00+01:00") == nil)
        #expect(t.who("2026-03-02T09:00:00+01:00") == "ann")
        #expect(t.until("2026-03-02T12:00:00+01:00") == at("2026-03-02T18:00:00+01:00"))
        #expect(t.who("2026-03-02T18:00:00+01:00") == nil)
        #expect(t.who("2026-03-03T09:30:00+01:00") == "bob")
        // Wall-clock windows: still 09:00-18:00 in summer time.
        #expect(t.who("2026-03-30T09:00:00+02:00") != nil)
        #expect(t.who("2026-03-30T08:59:59+02:00") == nil)
    }

    @Test func overnightRestrictionCrossesMidnight() throws {
        let t = try timeline(berlin, [layer(["owl"], from: "2026-03-02T00:00:00+01:00", restrictions: ["22:00-06:00"])])
        #expect(t.who("2026-03-02T23:00:00+01:00") == "owl")
        #expect(t.who("2026-03-03T05:59:59+01:00") == "owl")
        #expect(t.who("2026-03-03T06:00:00+01:00") == nil)
        #expect(t.until("2026-03-02T23:00:00+01:00") == at("2026-03-03T06:00:00+01:00"))
    }

    @Test func weeklyRestrictionCoversWeekdaysOnly() throws {
        let t = try timeline(newYork, [layer(["ann", "bob"], from: "2026-03-02T09:00:00-05:00", turn: .weeks(1),
                                             restrictions: ["mon 09:00 - fri 18:00"])])
        #expect(t.who("2026-03-02T09:00:00-05:00") == "ann")
        #expect(t.until("2026-03-03T03:00:00-05:00") == at("2026-03-06T18:00:00-05:00"))
        #expect(t.who("2026-03-07T12:00:00-05:00") == nil)
        #expect(t.who("2026-03-09T08:59:00-04:00") == nil)
        #expect(t.who("2026-03-09T09:00:00-04:00") == "bob")
    }

    @Test func weekendRestrictionWrapsIntoTheNextWeek() throws {
        let t = try timeline(berlin, [layer(["ann"], from: "2026-03-02T00:00:00+01:00", restrictions: ["fri 18:00 - mon 09:00"])])
        #expect(t.who("2026-03-06T17:59:00+01:00") == nil)
        #expect(t.who("2026-03-07T12:00:00+01:00") == "ann")
        #expect(t.until("2026-03-07T12:00:00+01:00") == at("2026-03-09T09:00:00+01:00"))
    }

    @Test func restrictionInsideTheSpringForwardGapIsEmpty() throws {
        let t = try timeline(berlin, [layer(["ann"], from: "2026-03-02T00:00:00+01:00", restrictions: ["02:00-03:00"])])
        #expect(t.who("2026-03-28T02:30:00+01:00") == "ann")
        #expect(t.onCall(at: at("2026-03-29T01:00:00Z")).isEmpty)
        #expect(t.onCall(at: at("2026-03-29T01:30:00Z")).isEmpty)
        #expect(t.who("2026-03-30T02:30:00+02:00") == "ann")
    }

    // MARK: layers and overrides

    @Test func laterLayerWinsWhereItHasSomeoneAndLowerLayersShowThrough() throws {
        let base = try layer(["ann", "bob"], from: "2026-03-02T09:00:00+01:00", turn: .weeks(1))
        let businessHours = try layer(["cem", "dan"], from: "2026-03-02T09:00:00+01:00", restrictions: ["09:00-17:00"])
        let t = try timeline(berlin, [base, businessHours])
        #expect(t.who("2026-03-02T10:00:00+01:00") == "cem")
        #expect(t.until("2026-03-02T10:00:00+01:00") == at("2026-03-02T17:00:00+01:00"))
        #expect(t.who("2026-03-02T17:00:00+01:00") == "ann")
        #expect(t.until("2026-03-02T17:00:00+01:00") == at("2026-03-03T09:00:00+01:00"))
        #expect(t.who("2026-03-03T10:00:00+01:00") == "dan")
        #expect(t.who("2026-03-10T20:00:00+01:00") == "bob")
    }

    @Test func threeLayersStackInOrder() throws {
        let t = try timeline(berlin, [
            layer(["a1"], from: "2026-03-02T00:00:00+01:00"),
            layer(["b1"], from: "2026-03-02T00:00:00+01:00", restrictions: ["08:00-20:00"]),
            layer(["c1"], from: "2026-03-02T00:00:00+01:00", restrictions: ["12:00-13:00"]),
        ])
        #expect(t.who("2026-03-02T07:00:00+01:00") == "a1")
        #expect(t.who("2026-03-02T09:00:00+01:00") == "b1")
        #expect(t.who("2026-03-02T12:30:00+01:00") == "c1")
        #expect(t.who("2026-03-02T13:00:00+01:00") == "b1")
        #expect(t.who("2026-03-02T20:00:00+01:00") == "a1")
    }

    @Test func overridesSitOnTopOfEveryLayer() throws {
        let layers = [
            try layer(["ann", "bob"], from: "2026-03-02T09:00:00+01:00"),
            try layer(["cem"], from: "2026-03-02T09:00:00+01:00", restrictions: ["09:00-17:00"]),
        ]
        let overrides = [
            Override(person: "zoe", start: at("2026-03-02T12:00:00+01:00"), end: at("2026-03-02T20:00:00+01:00")),
            // Overlapping overrides: the one listed last wins.
            Override(person: "yan", start: at("2026-03-02T14:00:00+01:00"), end: at("2026-03-02T15:00:00+01:00")),
        ]
        let t = try timeline(berlin, layers, overrides: overrides)
        #expect(t.who("2026-03-02T11:59:59+01:00") == "cem")
        #expect(t.who("2026-03-02T12:00:00+01:00") == "zoe")
        #expect(t.until("2026-03-02T12:00:00+01:00") == at("2026-03-02T14:00:00+01:00"))
        #expect(t.who("2026-03-02T14:30:00+01:00") == "yan")
        #expect(t.who("2026-03-02T15:00:00+01:00") == "zoe")
        #expect(t.who("2026-03-02T19:59:59+01:00") == "zoe")
        #expect(t.who("2026-03-02T20:00:00+01:00") == "ann")
    }

    @Test func anOverrideForTheSamePersonExtendsTheirShift() throws {
        let t = try timeline(berlin, [layer(["ann", "bob"], from: "2026-03-02T09:00:00+01:00")], overrides: [
            Override(person: "ann", start: at("2026-03-03T09:00:00+01:00"), end: at("2026-03-03T12:00:00+01:00")),
        ])
        #expect(t.until("2026-03-02T10:00:00+01:00") == at("2026-03-03T12:00:00+01:00"))
        #expect(t.who("2026-03-03T12:00:00+01:00") == "bob")
    }

    @Test func layerWithoutParticipantsHasNobody() throws {
        let t = try timeline(berlin, [layer(["ann"], from: "2026-03-02T09:00:00+01:00"), layer([], from: "2026-03-02T09:00:00+01:00")])
        #expect(t.who("2026-03-03T10:00:00+01:00") == "ann")
    }

    // MARK: lookups

    @Test func lookupsAreCaseInsensitiveAndAnswerInTheFirstSpelling() throws {
        let t = try timeline(berlin, [layer(["Ann@Example.com", "bob@example.com"], from: "2026-03-02T09:00:00+01:00")])
        #expect(t.isOnCall("ann@example.com", at: at("2026-03-02T10:00:00+01:00")))
        #expect(t.isOnCall("ANN@EXAMPLE.COM", at: at("2026-03-02T10:00:00+01:00")))
        #expect(t.shift(of: "ann@example.com", at: at("2026-03-02T10:00:00+01:00"))?.person == "Ann@Example.com")
        #expect(!t.isOnCall("eve@example.com", at: at("2026-03-02T10:00:00+01:00")))
        #expect(t.nextShift(of: "bob@example.com", after: at("2026-03-02T10:00:00+01:00"))?.start == at("2026-03-03T09:00:00+01:00"))
        #expect(t.people == ["Ann@Example.com", "bob@example.com"])
    }

    @Test func nobodyIsOnCallOutsideTheWindow() throws {
        let window = at("2026-03-02T00:00:00Z")..<at("2026-03-04T00:00:00Z")
        let t = try timeline(berlin, [layer(["ann"], from: "2026-03-01T09:00:00+01:00")], window: window)
        #expect(t.who("2026-03-01T12:00:00Z") == nil)
        #expect(t.who("2026-03-04T00:00:00Z") == nil)
        // The last shift is clipped to the window's end.
        #expect(t.until("2026-03-03T12:00:00Z") == window.upperBound)
    }

    // MARK: parsing the small textual forms

    @Test func parsesTurnLengthsRestrictionsAndTimes() throws {
        #expect(try TurnLength(parsing: "12h") == .seconds(43200))
        #expect(try TurnLength(parsing: "1d") == .days(1))
        #expect(try TurnLength(parsing: "2w") == .weeks(2))
        #expect(try Restriction(parsing: "09:00-18:00") == .daily(start: TimeOfDay(hour: 9, minute: 0)!, end: TimeOfDay(hour: 18, minute: 0)!))
        #expect(try Restriction(parsing: "mon 09:00 - fri 18:00")
            == .weekly(startDay: .monday, start: TimeOfDay(hour: 9, minute: 0)!, endDay: .friday, end: TimeOfDay(hour: 18, minute: 0)!))
        #expect(try Restriction(parsing: "Saturday 00:00 - Sunday 23:59:59").description == "sat 00:00 - sun 23:59:59")
        #expect(throws: ScheduleError.self) { try TurnLength(parsing: "1s") }
        #expect(throws: ScheduleError.self) { try TurnLength(parsing: "1y") }
        #expect(throws: ScheduleError.self) { try TimeOfDay(parsing: "24:00") }
        #expect(throws: ScheduleError.self) { try Restriction(parsing: "funday 09:00 - fri 18:00") }
        #expect(throws: ScheduleError.self) { try Restriction(parsing: "9-5") }
        #expect(throws: ScheduleError.self) {
            try Layer(participants: ["a"], rotationStart: at("2026-03-02T00:00:00Z"), turnLength: .days(1),
                      start: at("2026-03-03T00:00:00Z"), end: at("2026-03-02T00:00:00Z"))
        }
    }
}
