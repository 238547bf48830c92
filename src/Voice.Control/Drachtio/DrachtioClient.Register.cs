namespace Voice.Control.Drachtio;

// Registrations with a PBX.
public sealed partial class DrachtioClient
{
    /// <summary>
    /// Registers as an extension with a PBX and keeps the registration alive until it is disposed (or the
    /// client is), which removes the binding. Returns after the first successful REGISTER.
    /// </summary>
    /// <exception cref="Sip.SipFailureException">The PBX refused the first registration (403, credentials refused, …).</exception>
    public async Task<SipRegistration> RegisterAsync(RegistrationOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ObjectDisposedException.ThrowIf(_disposed == 1, this);
        var registration = new SipRegistration(this, options);
        await registration.StartAsync(ct).ConfigureAwait(false);
        _registrations[registration] = 0;
        return registration;
    }

    private void ResumeRegistrations()
    {
        foreach (var registration in _registrations.Keys)
        {
            registration.Wake();
        }
    }

    internal void Forget(SipRegistration registration) => _registrations.TryRemove(registration, out _);
}
