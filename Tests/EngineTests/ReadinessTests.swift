import Engine
import Testing

/// When a run counts as ready (sd_notify READY=1): every source listening or watching.
@Suite(.timeLimit(.minutes(5))) struct ReadinessTests {
    @Test func aSourceThatAnnouncesIsReadyOnlyWhenItSaysSo() {
        let readiness = Readiness(sources: [(index: 0, announces: true), (index: 2, announces: false)])
        #expect(!readiness.isReady)
        readiness.sourceEmitted(0)  // emitting (messages kept from an earlier run) is not listening
        readiness.sourceEmitted(2)  // the other one does not say: its first message counts
        #expect(!readiness.isReady)
        readiness.sourceReady(0)
        #expect(readiness.isReady)
    }

    @Test func aSourceThatReturnsCountsAsReady() {
        let readiness = Readiness(sources: [(index: 1, announces: true)])
        #expect(!readiness.isReady)
        readiness.sourceReturned(1)
        #expect(readiness.isReady)
    }

    @Test func noSourcesIsReadyAtOnceAndWaitReturns() async {
        let readiness = Readiness(sources: [])
        #expect(readiness.isReady)
        await readiness.wait()
    }

    @Test func waitReturnsOnceTheLastSourceIsReady() async {
        let readiness = Readiness(sources: [(index: 0, announces: true), (index: 1, announces: true)])
        let returned = Tally()
        let waiter = Task {
            await readiness.wait()
            returned.add()
        }
        readiness.sourceReady(0)
        readiness.sourceReady(0)  // again: still waiting for source 1
        #expect(!readiness.isReady)
        for _ in 0..<10 { await Task.yield() }  // the waiter has had its turn to run
        #expect(returned.value == 0, "wait() returned before the last source was ready")
        readiness.sourceReady(1)
        await waiter.value
        #expect(returned.value == 1)
        #expect(readiness.isReady)
    }
}
