using Voice.Control.Calls;

namespace Voice.Control.Tests.Calls;

public class CallStateMachineTests
{
    [TestCase(CallState.Queued, CallState.Dialing, null, true)]
    [TestCase(CallState.Queued, CallState.Failed, "canceled", true)]
    [TestCase(CallState.Queued, CallState.Ringing, null, false)]
    [TestCase(CallState.Queued, CallState.Playing, null, false)]
    [TestCase(CallState.Queued, CallState.Completed, "announce_complete", false)]
    [TestCase(CallState.Dialing, CallState.Ringing, null, true)]
    [TestCase(CallState.Dialing, CallState.Playing, null, true)]
    [TestCase(CallState.Dialing, CallState.Failed, "busy", true)]
    [TestCase(CallState.Dialing, CallState.Completed, "announce_complete", false)]
    [TestCase(CallState.Dialing, CallState.Queued, null, false)]
    [TestCase(CallState.Ringing, CallState.Playing, null, true)]
    [TestCase(CallState.Ringing, CallState.Failed, "no_answer", true)]
    [TestCase(CallState.Ringing, CallState.Ringing, null, false)]
    [TestCase(CallState.Ringing, CallState.Dialing, null, false)]
    [TestCase(CallState.Playing, CallState.Completed, "remote_hangup", true)]
    [TestCase(CallState.Playing, CallState.Failed, "media_error", true)]
    [TestCase(CallState.Playing, CallState.Ringing, null, false)]
    [TestCase(CallState.Completed, CallState.Failed, "error", false)]
    [TestCase(CallState.Failed, CallState.Completed, "announce_complete", false)]
    [TestCase(CallState.Failed, CallState.Dialing, null, false)]
    public void Moves_follow_the_table(CallState from, CallState to, string? reason, bool allowed)
    {
        Assert.That(CallStateMachine.CanMove(from, to, reason), Is.EqualTo(allowed));
        if (!allowed)
        {
            Assert.Throws<InvalidOperationException>(() => CallStateMachine.EnsureCanMove(from, to, reason));
        }
    }

    [TestCase(CallState.Dialing, CallState.Failed, null)]
    [TestCase(CallState.Dialing, CallState.Failed, "announce_complete")]
    [TestCase(CallState.Playing, CallState.Completed, "busy")]
    [TestCase(CallState.Playing, CallState.Completed, null)]
    [TestCase(CallState.Dialing, CallState.Ringing, "busy")]
    [TestCase(CallState.Dialing, CallState.Failed, "made_up")]
    public void A_final_state_needs_a_reason_of_its_kind_and_others_none(CallState from, CallState to, string? reason) =>
        Assert.That(CallStateMachine.CanMove(from, to, reason), Is.False);

    [TestCase(486, "busy")]
    [TestCase(600, "busy")]
    [TestCase(603, "rejected")]
    [TestCase(480, "no_answer")]
    [TestCase(408, "no_answer")]
    [TestCase(487, "no_answer")]
    [TestCase(404, "not_found")]
    [TestCase(484, "not_found")]
    [TestCase(401, "auth_failed")]
    [TestCase(407, "auth_failed")]
    [TestCase(503, "service_unavailable")]
    [TestCase(500, "error")]
    [TestCase(488, "error")]
    public void Final_SIP_statuses_map_to_failure_reasons(int status, string reason) =>
        Assert.That(CallReasons.ForSipStatus(status), Is.EqualTo(reason));
}
