using System.Threading.Channels;

namespace Voice.Control.Drachtio;

/// <summary>
/// A SIP request drachtio-server sent for us, waiting for its responses. Responses are matched by the stack
/// transaction id learned from the <c>Msg sent:</c> echo; the read loop hands them over without blocking.
/// </summary>
internal sealed class ClientTransaction(string method)
{
    private readonly Channel<DrachtioMessage> _responses =
        Channel.CreateUnbounded<DrachtioMessage>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });

    public string Method { get; } = method;

    /// <summary>The stack transaction id; replaced when a challenged request is retried with credentials.</summary>
    public string? TransactionId { get; set; }

    public ChannelReader<DrachtioMessage> Responses => _responses.Reader;

    public void Deliver(DrachtioMessage response) => _responses.Writer.TryWrite(response);

    /// <summary>Ends the response stream; a reader then sees <paramref name="error"/>.</summary>
    public void Fail(Exception error) => _responses.Writer.TryComplete(error);
}
