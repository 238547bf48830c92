using Voice.Control.Backends;
using Voice.Control.Calls;
using Voice.Control.Drachtio;
using Voice.Control.Media;
using Voice.Control.Sip;

namespace Voice.Control.Tests.Calls;

/// <summary>The seam's failures and how a call reports each, case by case; and how the SIP adapter names its protocols' failures.</summary>
public class CallOutcomesTests
{
    public static IEnumerable<TestCaseData> Rows()
    {
        static TestCaseData Row(string name, Exception failure, bool answered, bool hungUp, bool stopping, string reason, int? status, string? detail, bool unexpected = false) =>
            new TestCaseData(failure, answered, hungUp, stopping, new CallOutcome(reason, status, detail, unexpected)).SetName(name);

        yield return Row("no answer", CallBackendException.NoAnswer(487), false, false, false, CallReasons.NoAnswer, 487, "no answer within the ring timeout");
        yield return Row("busy", CallBackendException.Rejected(486, "Busy Here"), false, false, false, CallReasons.Busy, 486, "486 Busy Here");
        yield return Row("not found", CallBackendException.Rejected(404, "Not Found"), false, false, false, CallReasons.NotFound, 404, "404 Not Found");
        yield return Row("declined", CallBackendException.Rejected(603, "Decline"), false, false, false, CallReasons.Rejected, 603, "603 Decline");
        yield return Row("unavailable", CallBackendException.Rejected(503, "Service Unavailable"), false, false, false, CallReasons.ServiceUnavailable, 503, "503 Service Unavailable");
        yield return Row("credentials refused", CallBackendException.Rejected(407, "Proxy Authentication Required"), false, false, false, CallReasons.AuthFailed, 407, "407 Proxy Authentication Required");
        yield return Row("hung up while ringing", new CallCanceledException(487, null, default), false, true, false, CallReasons.Canceled, 487, "hung up through the API before answer");
        yield return Row("hung up before the INVITE", new OperationCanceledException(), false, true, false, CallReasons.Canceled, null, "hung up through the API before answer");
        yield return Row("stopping", new OperationCanceledException(), false, false, true, CallReasons.Canceled, null, "VoiceBridge is shutting down");
        yield return Row("rendering failed", new OperationCanceledException(), false, false, false, CallReasons.MediaError, null, null);
        yield return Row("no media server", new CallBackendException(CallFailure.MediaUnavailable, "no FreeSWITCH media server is ready"), false, false, false, CallReasons.ServiceUnavailable, null, "no FreeSWITCH media server is ready");
        yield return Row("link lost while dialling", new CallBackendException(CallFailure.SignallingLost, "closed"), false, false, false, CallReasons.SignallingLost, null, "the link to drachtio-server was lost while dialling: closed");
        yield return Row("drachtio unusable", new CallBackendException(CallFailure.SignallingUnavailable, "not connected"), false, false, false, CallReasons.ServiceUnavailable, null, "drachtio-server: not connected");
        yield return Row("media failed", new CallBackendException(CallFailure.MediaFailed, "playback refused"), true, false, false, CallReasons.MediaError, null, "playback refused");
        yield return Row("a bug before the answer", new NullReferenceException("oops"), false, false, false, CallReasons.Error, null, "oops", unexpected: true);
        yield return Row("a bug after the answer", new NullReferenceException("oops"), true, false, false, CallReasons.MediaError, null, "oops", unexpected: true);
    }

    [TestCaseSource(nameof(Rows))]
    public void Each_failure_has_one_outcome(Exception failure, bool answered, bool hungUp, bool stopping, CallOutcome expected) =>
        Assert.That(CallOutcomes.ForFailure(failure, answered, hungUp, stopping), Is.EqualTo(expected));

    public static IEnumerable<TestCaseData> Protocol()
    {
        yield return new TestCaseData(new SipFailureException(486, "Busy Here"), true, CallFailure.Rejected, 486).SetName("SIP final response");
        yield return new TestCaseData(new SipFailureException(487, "Request Terminated", ringTimeout: true), true, CallFailure.NoAnswer, 487).SetName("ring timeout");
        yield return new TestCaseData(new MediaServerUnavailableException("no server"), false, CallFailure.MediaUnavailable, null).SetName("no media server");
        yield return new TestCaseData(DrachtioConnectionLostException.Lost(null), true, CallFailure.SignallingLost, null).SetName("link lost while dialling");
        yield return new TestCaseData(DrachtioConnectionLostException.Lost(null), false, CallFailure.SignallingUnavailable, null).SetName("link lost otherwise");
        yield return new TestCaseData(new MediaException("refused"), false, CallFailure.MediaFailed, null).SetName("media command refused");
    }

    [TestCaseSource(nameof(Protocol))]
    public void The_SIP_adapter_names_its_protocols_failures_in_the_seams_words(Exception protocol, bool dialling, CallFailure failure, int? status)
    {
        var translated = SipCallBackend.Translate(protocol, dialling);
        Assert.That(translated, Is.InstanceOf<CallBackendException>());
        var seam = (CallBackendException)translated!;
        Assert.That((seam.Failure, seam.SipStatus), Is.EqualTo((failure, status)));
        Assert.That(seam.InnerException, Is.SameAs(protocol), "the protocol's exception is kept for the log");
    }

    [Test]
    public void A_cancelled_INVITE_stays_a_cancellation_with_its_final_status_and_a_bug_is_not_translated()
    {
        var canceled = SipCallBackend.Translate(new UacCanceledException(487, "Request Terminated", default), dialling: true);
        Assert.That(canceled, Is.InstanceOf<CallCanceledException>().And.InstanceOf<OperationCanceledException>());
        Assert.That(((CallCanceledException)canceled!).SipStatus, Is.EqualTo(487));
        Assert.That(SipCallBackend.Translate(new NullReferenceException(), dialling: true), Is.Null);
        Assert.That(SipCallBackend.Translate(new OperationCanceledException(), dialling: true), Is.Null);
    }
}
