using System.Security.Cryptography;
using System.Text;

namespace Voice.Host.Security;

/// <summary>A secret VoiceBridge makes for itself on first start and keeps in a file only its owner can read.</summary>
internal static class SecretFile
{
    /// <summary>The secret in <paramref name="path"/>; a new random one (<paramref name="prefix"/> + 48 hex digits) when the file is missing.</summary>
    public static (string Secret, bool Created) ReadOrCreate(string path, string prefix = "")
    {
        var created = false;
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            try
            {
                using var writer = new StreamWriter(path, Encoding.ASCII, options);
                writer.Write(prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24)));
                created = true;
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process starting on the same directory wrote it first: use theirs.
            }
        }
        return (File.ReadAllText(path).Trim(), created);
    }
}
