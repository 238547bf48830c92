using System.Globalization;
using Npgsql;

/// <summary>A database of the run's own on a PostgreSQL server, dropped at the end; and that server's CPU time.</summary>
internal sealed class ScratchDatabase : IAsyncDisposable
{
    private readonly string _admin;
    private readonly string _name;

    private ScratchDatabase(string admin, string name, string url)
    {
        _admin = admin;
        _name = name;
        Url = url;
    }

    /// <summary>What the hosts are given as DATABASE_URL.</summary>
    public string Url { get; }

    /// <exception cref="ArgumentException">No server named (VOICEBRIDGE_TEST_POSTGRES or --postgres).</exception>
    public static async Task<ScratchDatabase> CreateAsync(string? admin)
    {
        if (string.IsNullOrEmpty(admin))
        {
            throw new ArgumentException("--database postgres needs a server: --postgres \"Host=…;Username=…\" or VOICEBRIDGE_TEST_POSTGRES");
        }
        var name = "vb_load_" + Guid.NewGuid().ToString("N")[..12];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        return new ScratchDatabase(admin, name, new NpgsqlConnectionStringBuilder(admin) { Database = name }.ToString());
    }

    /// <summary>User and kernel time of every postgres process on this machine (the server runs here in the lab and in CI).</summary>
    public TimeSpan ServerCpu()
    {
        long ticks = 0;
        foreach (var directory in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var open = stat.IndexOf('(', StringComparison.Ordinal);
                var close = stat.LastIndexOf(')');
                if (stat[(open + 1)..close] != "postgres")
                {
                    continue;
                }
                var fields = stat[(close + 2)..].Split(' ');
                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // the process ended meanwhile
            }
        }
        return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(_admin);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {_name} WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
