using System.Runtime.ExceptionServices;
using System.Threading.Channels;

namespace Voice.Control.Drachtio;

/// <summary>
/// A SIP request drachtio-server sent for us, waiting for its responses. The first message it reads is
/// drachtio-server's reply to the request (the <c>Msg sent:</c> echo, or a refusal); SIP responses follow,
/// matched by the stack transaction id the echo carries. The read loop hands them over without blocking.
/// </summary>
internal sealed class ClientTransaction(string method)
{
    private readonly Channel<DrachtioMessage> _messages =
        Channel.CreateUnbounded<DrachtioMessage>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = true });

    public string Method { get; } = method;

    /// <summary>Runs on the read loop when drachtio-server accepts the request, before any response is dispatched.</summary>
    public Action<DrachtioResponse>? OnAccepted { get; init; }

    /// <summary>The id of the control message that carried the request.</summary>
    public string? MessageId { get; set; }

    /// <summary>The stack transaction id; replaced when a challenged request is retried with credentials.</summary>
    public string? TransactionId { get; set; }

    public void Deliver(DrachtioMessage message) => _messages.Writer.TryWrite(message);

    /// <summary>Ends the message stream; a reader then sees <paramref name="error"/>.</summary>
    public void Fail(Exception error) => _messages.Writer.TryComplete(error);

    /// <summary>drachtio-server's reply to the request: the first message of the stream.</summary>
    public async Task<DrachtioResponse> ReadReplyAsync(CancellationToken ct) => new(await ReadAsync(ct).ConfigureAwait(false));

    /// <summary>The next SIP response; <see cref="DrachtioConnectionLostException"/> if the link went first.</summary>
    public async Task<DrachtioMessage> ReadAsync(CancellationToken ct)
    {
        try
        {
            return await _messages.Reader.ReadAsync(ct).ConfigureAwait(false);
        }
        catch (ChannelClosedException ex) when (ex.InnerException is not null)
        {
            ExceptionDispatchInfo.Throw(ex.InnerException);
            throw;
        }
    }
}
