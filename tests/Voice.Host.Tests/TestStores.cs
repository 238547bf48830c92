using Voice.Host.Storage;
using Voice.Host.Webhooks;

namespace Voice.Host.Tests;

/// <summary>Stores as the host makes them, with its webhook payloads.</summary>
internal static class TestStores
{
    public static CallStore Sqlite(string path, TimeProvider? time = null) => new(new SqliteDatabase(path), WebhookPayload.Body, time);

    public static CallStore Open(StoreDatabase database, TimeProvider? time = null, string? hostId = null) => new(database, WebhookPayload.Body, time, hostId);
}
