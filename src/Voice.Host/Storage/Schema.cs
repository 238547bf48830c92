using System.Data.Common;
using Dapper;

namespace Voice.Host.Storage;

/// <summary>The tables, as each engine's migrations create them. Times are Unix milliseconds in both.</summary>
internal static class Schema
{
    /// <summary>
    /// SQLite's first version: the schema as it stood when migrations were introduced. Databases made before then have
    /// some of it already (without the migrations table), so every statement tolerates what is there, and the columns
    /// added over the releases before are added when missing.
    /// </summary>
    public static async Task SqliteBaselineAsync(DbConnection connection, DbTransaction transaction)
    {
        await connection.ExecuteAsync("""
            CREATE TABLE IF NOT EXISTS calls (
                call_id TEXT PRIMARY KEY,
                to_number TEXT NOT NULL,
                caller_id TEXT,
                message TEXT NOT NULL,
                mode TEXT NOT NULL,
                state TEXT NOT NULL,
                reason TEXT,
                sip_status INTEGER,
                detail TEXT,
                tag TEXT,
                simulated INTEGER NOT NULL,
                webhook_url TEXT,
                webhook_events TEXT,
                request_json TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                answered_at INTEGER,
                ended_at INTEGER,
                last_sequence INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS call_events (
                call_id TEXT NOT NULL,
                sequence INTEGER NOT NULL,
                state TEXT NOT NULL,
                reason TEXT,
                sip_status INTEGER,
                detail TEXT,
                at INTEGER NOT NULL,
                PRIMARY KEY (call_id, sequence));
            CREATE TABLE IF NOT EXISTS webhook_outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                call_id TEXT NOT NULL,
                sequence INTEGER NOT NULL,
                event TEXT NOT NULL,
                url TEXT NOT NULL,
                body TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at INTEGER NOT NULL,
                last_status INTEGER,
                last_error TEXT,
                created_at INTEGER NOT NULL,
                delivered_at INTEGER,
                trace_parent TEXT,
                UNIQUE (call_id, sequence));
            CREATE TABLE IF NOT EXISTS call_counts_archive (
                day TEXT NOT NULL,
                caller_id TEXT NOT NULL,
                to_number TEXT NOT NULL,
                calls INTEGER NOT NULL,
                PRIMARY KEY (day, caller_id, to_number));
            CREATE TABLE IF NOT EXISTS idempotency_keys (
                key TEXT PRIMARY KEY,
                call_id TEXT NOT NULL,
                request_hash TEXT NOT NULL,
                created_at INTEGER NOT NULL);
            """, transaction: transaction);
        async Task AddMissingAsync(string table, params (string Column, string Type)[] columns)
        {
            var existing = (await connection.QueryAsync<string>($"SELECT name FROM pragma_table_info('{table}')", transaction: transaction)).ToHashSet(StringComparer.Ordinal);
            foreach (var (column, type) in columns.Where(c => !existing.Contains(c.Column)))
            {
                await connection.ExecuteAsync($"ALTER TABLE {table} ADD COLUMN {column} {type}", transaction: transaction);
            }
        }
        await AddMissingAsync("webhook_outbox", ("trace_parent", "TEXT"));
        await AddMissingAsync("calls", ("results", "TEXT"), ("alert_id", "TEXT"), ("attempt", "INTEGER"), ("direction", "TEXT NOT NULL DEFAULT 'outbound'"),
            ("source", "TEXT"), ("application", "TEXT"), ("agent", "TEXT"), ("destination", "TEXT"));
        await connection.ExecuteAsync("""
            CREATE INDEX IF NOT EXISTS calls_by_time ON calls (created_at DESC, call_id DESC);
            CREATE INDEX IF NOT EXISTS calls_by_state ON calls (state, created_at DESC);
            CREATE INDEX IF NOT EXISTS calls_by_to ON calls (to_number, created_at DESC);
            CREATE INDEX IF NOT EXISTS calls_by_caller ON calls (caller_id, created_at DESC);
            -- The pending webhooks in order, read at start-up and after an overflow; ordered as they are written, so
            -- each commit adds to the index's last page (earlier versions kept two indexes keyed by call and by due
            -- time, which nothing reads and which cost every commit a page per call).
            DROP INDEX IF EXISTS outbox_pending;
            DROP INDEX IF EXISTS outbox_due;
            CREATE INDEX IF NOT EXISTS outbox_pending_by_id ON webhook_outbox (id) WHERE status = 'pending';
            CREATE TABLE IF NOT EXISTS alerts (
                alert_id TEXT PRIMARY KEY,
                numbers TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                delay_ms INTEGER NOT NULL,
                retry_on TEXT NOT NULL,
                acknowledge INTEGER NOT NULL,
                request_json TEXT NOT NULL,
                status TEXT NOT NULL,
                outcome_number TEXT,
                next_attempt_at INTEGER,
                created_at INTEGER NOT NULL,
                ended_at INTEGER);
            CREATE INDEX IF NOT EXISTS alerts_active ON alerts (status) WHERE status = 'active';
            CREATE INDEX IF NOT EXISTS calls_by_alert ON calls (alert_id, attempt) WHERE alert_id IS NOT NULL;
            CREATE TABLE IF NOT EXISTS agents (
                extension TEXT PRIMARY KEY,
                name TEXT,
                created_at INTEGER NOT NULL);
            """, transaction: transaction);
    }

    /// <summary>PostgreSQL's first version: the same tables, with 64-bit integers and an identity for the outbox.</summary>
    public const string PostgresBaseline = """
        CREATE TABLE calls (
            call_id TEXT PRIMARY KEY,
            to_number TEXT NOT NULL,
            caller_id TEXT,
            message TEXT NOT NULL,
            mode TEXT NOT NULL,
            state TEXT NOT NULL,
            reason TEXT,
            sip_status BIGINT,
            detail TEXT,
            tag TEXT,
            simulated BIGINT NOT NULL,
            webhook_url TEXT,
            webhook_events TEXT,
            request_json TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            answered_at BIGINT,
            ended_at BIGINT,
            last_sequence BIGINT NOT NULL DEFAULT 0,
            results TEXT,
            alert_id TEXT,
            attempt BIGINT,
            direction TEXT NOT NULL DEFAULT 'outbound',
            source TEXT,
            application TEXT,
            agent TEXT,
            destination TEXT);
        CREATE INDEX calls_by_time ON calls (created_at DESC, call_id DESC);
        CREATE INDEX calls_by_state ON calls (state, created_at DESC);
        CREATE INDEX calls_by_to ON calls (to_number, created_at DESC);
        CREATE INDEX calls_by_caller ON calls (caller_id, created_at DESC);
        CREATE INDEX calls_by_alert ON calls (alert_id, attempt) WHERE alert_id IS NOT NULL;
        CREATE TABLE call_events (
            call_id TEXT NOT NULL,
            sequence BIGINT NOT NULL,
            state TEXT NOT NULL,
            reason TEXT,
            sip_status BIGINT,
            detail TEXT,
            at BIGINT NOT NULL,
            PRIMARY KEY (call_id, sequence));
        CREATE TABLE webhook_outbox (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            call_id TEXT NOT NULL,
            sequence BIGINT NOT NULL,
            event TEXT NOT NULL,
            url TEXT NOT NULL,
            body TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts BIGINT NOT NULL DEFAULT 0,
            next_attempt_at BIGINT NOT NULL,
            last_status BIGINT,
            last_error TEXT,
            created_at BIGINT NOT NULL,
            delivered_at BIGINT,
            trace_parent TEXT,
            UNIQUE (call_id, sequence));
        CREATE INDEX outbox_pending_by_id ON webhook_outbox (id) WHERE status = 'pending';
        CREATE TABLE call_counts_archive (
            day TEXT NOT NULL,
            caller_id TEXT NOT NULL,
            to_number TEXT NOT NULL,
            calls BIGINT NOT NULL,
            PRIMARY KEY (day, caller_id, to_number));
        CREATE TABLE idempotency_keys (
            key TEXT PRIMARY KEY,
            call_id TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            created_at BIGINT NOT NULL);
        CREATE TABLE alerts (
            alert_id TEXT PRIMARY KEY,
            numbers TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            delay_ms BIGINT NOT NULL,
            retry_on TEXT NOT NULL,
            acknowledge BIGINT NOT NULL,
            request_json TEXT NOT NULL,
            status TEXT NOT NULL,
            outcome_number TEXT,
            next_attempt_at BIGINT,
            created_at BIGINT NOT NULL,
            ended_at BIGINT);
        CREATE INDEX alerts_active ON alerts (status) WHERE status = 'active';
        CREATE TABLE agents (
            extension TEXT PRIMARY KEY,
            name TEXT,
            created_at BIGINT NOT NULL);
        """;

    /// <summary>
    /// Version 2, the same on both engines: which host owns each call (null: queued, for any host to claim), its webhooks
    /// and its alert; when a call was claimed; the hosts' leases; and the cluster's pacing of new calls.
    /// </summary>
    public const string Hosts = """
        ALTER TABLE calls ADD COLUMN host_id TEXT;
        ALTER TABLE calls ADD COLUMN claimed_at BIGINT;
        ALTER TABLE webhook_outbox ADD COLUMN host_id TEXT;
        ALTER TABLE alerts ADD COLUMN host_id TEXT;
        CREATE INDEX calls_unclaimed ON calls (created_at, call_id) WHERE state = 'queued' AND host_id IS NULL;
        CREATE INDEX calls_by_host ON calls (host_id, state);
        CREATE INDEX calls_by_claim ON calls (claimed_at) WHERE claimed_at IS NOT NULL;
        CREATE INDEX outbox_by_host ON webhook_outbox (host_id, id) WHERE status = 'pending';
        CREATE TABLE hosts (
            host_id TEXT PRIMARY KEY,
            started_at BIGINT NOT NULL,
            lease_until BIGINT NOT NULL);
        CREATE TABLE dispatch (
            id BIGINT PRIMARY KEY,
            next_start_at BIGINT NOT NULL);
        INSERT INTO dispatch (id, next_start_at) VALUES (1, 0);
        """;

    /// <summary>
    /// Version 4, SQLite only: the indexes of version 2 serve a cluster's queries, and only PostgreSQL is shared by hosts.
    /// On SQLite they were written at every state change and every webhook for nothing: each commit rewrote their pages
    /// (two of the pages a commit writes under load).
    /// </summary>
    public const string SqliteWithoutClusterIndexes = """
        DROP INDEX IF EXISTS calls_unclaimed;
        DROP INDEX IF EXISTS calls_by_host;
        DROP INDEX IF EXISTS calls_by_claim;
        DROP INDEX IF EXISTS outbox_by_host;
        """;

    /// <summary>Version 3, the same on both engines: dashboard sessions, which every host of a cluster knows (by a hash of the cookie's id).</summary>
    public const string Sessions = """
        CREATE TABLE dashboard_sessions (
            id_hash TEXT PRIMARY KEY,
            key_name TEXT NOT NULL,
            csrf_token TEXT NOT NULL,
            expires_at BIGINT NOT NULL);
        """;
}
