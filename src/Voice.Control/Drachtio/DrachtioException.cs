namespace Voice.Control.Drachtio;

/// <summary>Base type of every error the drachtio client reports about its link to drachtio-server.</summary>
public class DrachtioException : Exception
{
    public DrachtioException(string message) : base(message) { }

    public DrachtioException(string message, Exception? inner) : base(message, inner) { }
}
