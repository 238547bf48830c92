namespace Voice.Host.Storage;

/// <summary>Where the host keeps its data, and for how long.</summary>
internal sealed record StorageOptions(string DatabasePath, TimeSpan Retention);
