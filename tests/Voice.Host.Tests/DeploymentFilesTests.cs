using System.Text.Json;
using System.Text.RegularExpressions;

namespace Voice.Host.Tests;

/// <summary>The production files of the README: docker-compose.yml mounts files that exist and sets variables the host reads; the n8n example imports.</summary>
public partial class DeploymentFilesTests
{
    private static string Repository()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "VoiceBridge.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("not inside the repository");
    }

    [GeneratedRegex(@"^\s+- \./(?<file>[^:]+):(?<target>[^:]+)", RegexOptions.Multiline)]
    private static partial Regex Mount();

    [GeneratedRegex(@"^      (?<name>[A-Z_]+): ", RegexOptions.Multiline)]
    private static partial Regex Variable();

    [Test]
    public void Docker_compose_mounts_the_repository_config_files_and_sets_variables_the_host_reads()
    {
        var compose = File.ReadAllText(Path.Combine(Repository(), "docker-compose.yml"));
        var mounts = Mount().Matches(compose).Select(m => (File: m.Groups["file"].Value, Target: m.Groups["target"].Value)).ToList();
        Assert.That(mounts.Select(m => m.File), Is.SupersetOf(new[]
        {
            "drachtio-config/drachtio.conf.xml", "fs-config/autoload_configs/event_socket.conf.xml", "fs-config/autoload_configs/acl.conf.xml",
            "fs-config/sip_profiles/mrf.xml", "fs-config/dialplan/mrf.xml",
        }));
        foreach (var (file, _) in mounts)
        {
            Assert.That(File.Exists(Path.Combine(Repository(), file)), $"{file} is mounted but missing");
        }

        var names = VoiceBridgeVariables(compose[compose.IndexOf("  voicebridge:", StringComparison.Ordinal)..]);
        Assert.That(names, Is.SupersetOf(new[] { "DRACHTIO_HOST", "DRACHTIO_SECRET", "FREESWITCH_HOST", "FREESWITCH_SECRET", "SIP_TRUNK_HOST", "API_KEYS" }));
    }

    [Test]
    public void The_cluster_compose_file_gives_every_host_the_shared_database_a_name_of_its_own_and_both_media_servers()
    {
        var compose = File.ReadAllText(Path.Combine(Repository(), "docker-compose.cluster.yml"));
        foreach (var file in Mount().Matches(compose).Select(m => m.Groups["file"].Value))
        {
            Assert.That(File.Exists(Path.Combine(Repository(), file)), $"{file} is mounted but missing");
        }
        Assert.That(Regex.Matches(compose, @"profiles: \[(\w+)\]").Select(m => m.Groups[1].Value).Distinct(), Is.EquivalentTo(new[] { "database", "app", "media" }));
        var app = compose[compose.IndexOf("  voicebridge:", StringComparison.Ordinal)..compose.IndexOf("  freeswitch:", StringComparison.Ordinal)];
        Assert.That(VoiceBridgeVariables(app), Is.SupersetOf(new[] { "DATABASE_URL", "HOST_ID", "CLUSTER_LEASE_SECONDS", "FREESWITCH_HOSTS", "WEBHOOK_SECRET", "API_KEYS" }));

        // The database URL, with the .env's values in it, names the compose file's PostgreSQL.
        var url = Regex.Match(app, @"DATABASE_URL: (.+)").Groups[1].Value.Trim();
        var filled = Regex.Replace(url, @"\$\{(\w+):\?[^}]*\}", m => m.Groups[1].Value == "DATABASE_HOST" ? "10.0.0.10" : "s3cret");
        Assert.That(Storage.PostgresDatabase.Names(filled), filled);
        var parsed = Storage.PostgresDatabase.Parse(filled);
        Assert.That((parsed.Host, parsed.Port, parsed.Database, parsed.Username, parsed.Password), Is.EqualTo(("10.0.0.10", 5432, "voicebridge", "voicebridge", "s3cret")));
    }

    /// <summary>The variables a compose service gives VoiceBridge, each one its configuration reads (a typo would be silently ignored).</summary>
    private static List<string> VoiceBridgeVariables(string service)
    {
        var names = Variable().Matches(service).Select(m => m.Groups["name"].Value).ToList();
        var read = Regex.Matches(
            string.Concat(Directory.GetFiles(Path.Combine(Repository(), "src", "Voice.Host"), "*.cs", SearchOption.AllDirectories).Select(File.ReadAllText)),
            "\"([A-Z_]{4,})\"").Select(m => m.Groups[1].Value).ToHashSet();
        Assert.That(names.Where(n => !read.Contains(n)), Is.Empty, "variables the host does not read");
        return names;
    }

    [Test]
    public void The_n8n_example_calls_the_API_with_a_key_and_verifies_the_webhook_signature()
    {
        using var workflow = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repository(), "examples", "n8n-server-alert.json")));
        var nodes = workflow.RootElement.GetProperty("nodes").EnumerateArray().ToList();
        var call = nodes.Single(n => n.GetProperty("type").GetString() == "n8n-nodes-base.httpRequest").GetProperty("parameters");
        Assert.That(call.GetProperty("url").GetString(), Does.EndWith("/api/outbound-call"));
        Assert.That(call.GetProperty("headerParameters").GetRawText(), Does.Contain("X-API-Key").And.Contain("Idempotency-Key"));
        Assert.That(call.GetProperty("jsonBody").GetString(), Does.Contain("webhookUrl").And.Contain("message"));
        var verify = nodes.Single(n => n.GetProperty("type").GetString() == "n8n-nodes-base.code").GetProperty("parameters").GetProperty("jsCode").GetString();
        Assert.That(verify, Does.Contain("x-voicebridge-signature").And.Contain("createHmac('sha256'").And.Contain("timingSafeEqual"));
        foreach (var connection in workflow.RootElement.GetProperty("connections").EnumerateObject())
        {
            Assert.That(nodes.Any(n => n.GetProperty("name").GetString() == connection.Name), $"connection from unknown node {connection.Name}");
        }
    }
}
