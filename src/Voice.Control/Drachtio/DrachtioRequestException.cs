namespace Voice.Control.Drachtio;

/// <summary>drachtio-server refused a request (<c>NOK|reason</c>), for example an ACK it generates itself.</summary>
public sealed class DrachtioRequestException(string reason) : DrachtioException($"drachtio-server refused the request: {reason}")
{
    public string Reason { get; } = reason;
}
