using System.Collections.Concurrent;
using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Voice.Host.Storage;

/// <summary>
/// SQLite, the embedded default for one host: one file in WAL mode (reads never wait for the writer), one writer
/// connection with <c>synchronous = NORMAL</c>, read-only connections kept open with their statements compiled, and
/// checkpoints off the write path (<see cref="MaintainAsync"/>).
/// </summary>
public sealed class SqliteDatabase : StoreDatabase
{
    /// <summary>Pages in the write-ahead log (4 KB each) past which <see cref="Checkpoint"/> starts it over.</summary>
    public const int ResetFrames = 1000;

    /// <summary>How often the write-ahead log is copied into the database file under load…</summary>
    public static readonly TimeSpan CheckpointInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>…that is, once this many transactions were committed since the last copy; fewer wait this long.</summary>
    public const int CheckpointCommits = 50;

    public static readonly TimeSpan CheckpointQuietInterval = TimeSpan.FromSeconds(2);

    private readonly string _connectionString;
    private readonly Readers _readers;

    public SqliteDatabase(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = Path, Pooling = true, DefaultTimeout = 10 }.ToString();
        _readers = new Readers(new SqliteConnectionStringBuilder(_connectionString) { Mode = SqliteOpenMode.ReadOnly }.ToString());
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    public override string Engine => "sqlite";

    internal override IReadOnlyList<Migration> Migrations { get; } =
    [
        new(1, "calls, history, outbox, keys, counts, alerts, agents", Schema.SqliteBaselineAsync),
        Migration.Sql(2, "hosts: owners, claims, leases, pacing", Schema.Hosts),
        Migration.Sql(3, "dashboard sessions", Schema.Sessions),
        Migration.Sql(4, "no cluster indexes", Schema.SqliteWithoutClusterIndexes),
    ];

    public override async Task<DbConnection> OpenAsync()
    {
        // No busy_timeout pragma per open: Microsoft.Data.Sqlite retries a busy database until the command timeout
        // (Default Timeout above), and WAL mode is stored in the file itself.
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync();
        return connection;
    }

    internal override Task<List<T>> ReadAsync<T>(string sql, IReadOnlyList<(string Name, object? Value)> parameters, Func<DbDataReader, T> read) =>
        _readers.QueryAsync(sql, parameters, read);

    /// <remarks>SQLite's busy, locked, I/O, full and cannot-open errors; not a constraint, a type mismatch or an SQL error.</remarks>
    public override bool IsTransient(Exception error) => error switch
    {
        SqliteException sqlite => sqlite.SqliteErrorCode is 5 or 6 or 10 or 13 or 14 or 15,
        IOException or TimeoutException => true,
        _ => false,
    };

    internal override string DayOf(string unixMilliseconds) => $"date(({unixMilliseconds}) / 1000, 'unixepoch')";

    internal override string DayStart(string day) => $"(unixepoch({day}) * 1000)";

    protected override Task PrepareAsync(DbConnection connection) => connection.ExecuteAsync("PRAGMA journal_mode = WAL");

    /// <summary>
    /// The one connection that writes. Its <c>synchronous = NORMAL</c> is a per-connection setting: on pooled connections it
    /// would fall back to FULL, an fsync of the WAL at every commit. In WAL mode NORMAL loses no committed transaction on a
    /// process crash, only on a power cut since the last checkpoint. It does not checkpoint at commit as SQLite's default
    /// does (then the fsyncs of the database file would happen under the write lock): <see cref="Checkpoint"/> does
    /// that, and the writer falls back to it only when the log has grown far past <see cref="ResetFrames"/>.
    /// </summary>
    protected override DbConnection OpenWriter()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        connection.Execute($"PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = {ResetFrames * 16}; PRAGMA journal_size_limit = {ResetFrames * 4096 * 4};");
        return connection;
    }

    /// <summary>
    /// Keeps the write-ahead log short with checkpoints off the write path, on a thread of its own (their fsyncs block
    /// for as long as the disk takes); at 200 calls/s with every webhook the log grows by about 8,000 pages a second.
    /// Under load one checkpoint every <see cref="CheckpointInterval"/>; at a few calls a second, one every
    /// <see cref="CheckpointQuietInterval"/>; with nothing written, none.
    /// </summary>
    public override Task MaintainAsync(Action<Exception> failed, CancellationToken stoppingToken) => Task.Factory.StartNew(() =>
    {
        var copied = Commits;
        var last = Environment.TickCount64;
        while (!stoppingToken.WaitHandle.WaitOne(CheckpointInterval))
        {
            var commits = Commits;
            if (commits == copied || (commits - copied < CheckpointCommits && Environment.TickCount64 - last < CheckpointQuietInterval.TotalMilliseconds))
            {
                continue;
            }
            copied = commits;
            last = Environment.TickCount64;
            try
            {
                Checkpoint();
            }
            catch (Exception ex) when (ex is SqliteException or IOException)
            {
                failed(ex);
            }
        }
    }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>
    /// Copies the write-ahead log into the database file. The copy and its fsyncs run on a connection of their own,
    /// without the write lock, so no write waits for the database file's fsync; writers go on appending. Once the log
    /// holds <see cref="ResetFrames"/> pages, the few pages appended during that copy are copied again under the write
    /// lock, which lets the next write start the log over from its beginning (SQLite restarts the log only when all of
    /// it is in the database file as a write begins). Returns the log's size in pages.
    /// </summary>
    /// <remarks>Synchronous: it blocks for as long as the disk takes.</remarks>
    public int Checkpoint()
    {
        int log;
        using (var connection = new SqliteConnection(_connectionString))
        {
            connection.Open();
            log = PassiveCheckpoint(connection);
        }
        return log < ResetFrames ? log : WithWriter(writer => writer is null ? log : PassiveCheckpoint(writer));
    }

    private static int PassiveCheckpoint(DbConnection connection)
    {
        // One row: busy (0 or 1), pages in the log, pages of it now in the database file.
        var (_, log, _) = connection.QuerySingle<(long Busy, long Log, long Done)>("PRAGMA wal_checkpoint(PASSIVE)");
        return (int)log;
    }

    public override void Dispose()
    {
        _readers.Dispose();
        base.Dispose();
    }

    /// <summary>
    /// Read-only connections kept open, each with its statements compiled once: a read that the API does on every
    /// request binds and steps a statement instead of opening a connection and compiling SQL, which was most of its cost.
    /// </summary>
    private sealed class Readers(string connectionString) : IDisposable
    {
        private readonly ConcurrentBag<Reader> _idle = [];
        private int _disposed;

        public async Task<List<T>> QueryAsync<T>(string sql, IReadOnlyList<(string Name, object? Value)> parameters, Func<DbDataReader, T> read)
        {
            var reader = _idle.TryTake(out var idle) ? idle : await Reader.OpenAsync(connectionString);
            try
            {
                var command = reader.Command(sql);
                foreach (var (name, value) in parameters)
                {
                    command.Parameters.AddWithValue(name, value ?? DBNull.Value);
                }
                var rows = new List<T>();
                await using (var result = await command.ExecuteReaderAsync())
                {
                    while (await result.ReadAsync())
                    {
                        rows.Add(read(result));
                    }
                }
                command.Parameters.Clear();
                Return(reader);
                return rows;
            }
            catch
            {
                reader.Dispose(); // in an unknown state: not reused
                throw;
            }
        }

        private void Return(Reader reader)
        {
            if (Volatile.Read(ref _disposed) == 1)
            {
                reader.Dispose();
                return;
            }
            _idle.Add(reader);
        }

        public void Dispose()
        {
            Interlocked.Exchange(ref _disposed, 1);
            while (_idle.TryTake(out var reader))
            {
                reader.Dispose();
            }
        }

        private sealed class Reader(SqliteConnection connection) : IDisposable
        {
            private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

            public static async Task<Reader> OpenAsync(string connectionString)
            {
                var connection = new SqliteConnection(connectionString);
                await connection.OpenAsync();
                return new Reader(connection);
            }

            public SqliteCommand Command(string sql)
            {
                if (!_commands.TryGetValue(sql, out var command))
                {
                    command = connection.CreateCommand();
                    command.CommandText = sql;
                    command.Prepare();
                    _commands[sql] = command;
                }
                return command;
            }

            public void Dispose()
            {
                foreach (var command in _commands.Values)
                {
                    command.Dispose();
                }
                connection.Dispose();
            }
        }
    }
}
