using Microsoft.Data.Sqlite;

namespace Voice.Host.Tests;

/// <summary>A data directory of a test's own, removed with its SQLite files when the test ends.</summary>
public sealed class TemporaryDirectory : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "vb-test-" + Guid.NewGuid().ToString("N"));

    /// <summary>Where the host keeps its database in this directory.</summary>
    public string Database => System.IO.Path.Combine(Path, "voicebridge.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools(); // pooled connections keep the files open
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}
