using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Voice.Host.Tests;

/// <summary>
/// The real PostgreSQL the tests run against: the one <c>VOICEBRIDGE_TEST_POSTGRES</c> names (<c>.ci/run</c> starts one
/// in a data directory of its own and sets it), or else one this process starts from the machine's PostgreSQL
/// binaries in a temporary directory and stops at exit. Each test gets a database of its own.
/// </summary>
public static class PostgresServer
{
    /// <summary>Names the server (an Npgsql connection string with a user allowed to create databases).</summary>
    public const string Variable = "VOICEBRIDGE_TEST_POSTGRES";

    private static readonly Lazy<(string? Admin, string? Problem)> Server = new(Start);

    /// <summary>
    /// A new, empty database on the server; its connection string. A server named by <see cref="Variable"/> that does not
    /// answer fails the test; without one, a machine with no PostgreSQL to start skips it, loudly.
    /// </summary>
    public static string CreateDatabase()
    {
        var (admin, problem) = Server.Value;
        if (admin is null)
        {
            TestContext.Progress.WriteLine($"*** POSTGRESQL TESTS SKIPPED: {problem} ***");
            Assert.Ignore($"No PostgreSQL: {problem}");
        }
        var name = "vb_" + Guid.NewGuid().ToString("N")[..16];
        using (var connection = new NpgsqlConnection(admin))
        {
            connection.Open();
            using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            create.ExecuteNonQuery();
        }
        return new NpgsqlConnectionStringBuilder(admin) { Database = name, Pooling = true }.ToString();
    }

    private static (string? Admin, string? Problem) Start()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } given)
        {
            return (given, null); // a server CI started: if it does not answer, the tests fail saying so
        }
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0).FirstOrDefault()
            : null;
        if (bin is null)
        {
            return (null, $"{Variable} is not set and no PostgreSQL is installed here (Debian: apt-get install postgresql; .ci/run does it)");
        }
        var directory = Path.Combine(Path.GetTempPath(), "vb-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        // PostgreSQL refuses to run as root: then it runs as the postgres user Debian's package creates.
        var asRoot = Environment.UserName == "root";
        if (asRoot && Run(["chown", "postgres", directory]) is { } chown)
        {
            return (null, "could not give the data directory to the postgres user: " + chown);
        }
        var port = FreePort();
        string[] Command(string tool, params string[] arguments) => asRoot ? ["runuser", "-u", "postgres", "--", Path.Combine(bin, tool), .. arguments] : [Path.Combine(bin, tool), .. arguments];
        var data = Path.Combine(directory, "data");
        if (Run(Command("initdb", "-D", data, "-U", "voicebridge", "--auth=trust", "-E", "UTF8", "--no-sync")) is { } initdb)
        {
            return (null, "initdb failed: " + initdb);
        }
        if (Run(Command("pg_ctl", "-D", data, "-l", Path.Combine(directory, "log"), "-w", "start", "-o",
            $"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300")) is { } start)
        {
            return (null, "PostgreSQL did not start: " + start);
        }
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            Run(Command("pg_ctl", "-D", data, "-m", "immediate", "stop"));
            Directory.Delete(directory, recursive: true);
        };
        return ($"Host=127.0.0.1;Port={port};Username=voicebridge;Database=postgres", null);
    }

    /// <summary>Runs a command to its end; null when it succeeded, otherwise what it said.</summary>
    private static string? Run(string[] command)
    {
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in command[1..])
        {
            start.ArgumentList.Add(argument);
        }
        try
        {
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? null : $"{string.Join(' ', command)} exited with {process.ExitCode}: {error}{output.Result}".Trim();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return $"{command[0]}: {ex.Message}";
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
