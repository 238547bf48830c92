using FluentValidation;
using Voice.Control.Calls;
using Voice.Control.Phone;
using Voice.Control.Scripts;
using Voice.Host.Webhooks;

namespace Voice.Host.Api;

/// <summary>
/// Every rule of the original's API, and more: no field that reaches SIP or FreeSWITCH may hold a control
/// character (a line break there would start a new header or command).
/// </summary>
public sealed class OutboundCallValidator : AbstractValidator<OutboundCallRequest>
{
    private static readonly string[] States = ["queued", "dialing", "ringing", "playing", "completed", "failed"];

    public OutboundCallValidator(CallOptions options, WebhookDestinations? webhooks = null)
    {
        webhooks ??= WebhookDestinations.Default;
        RuleFor(r => r.To).Cascade(CascadeMode.Stop)
            .NotEmpty().WithMessage("is required")
            .Must(NoControlCharacters).WithMessage("must not contain control characters")
            .Custom((to, context) =>
            {
                if (!PhoneNumber.TryParse(to, options.Numbers, out _, out var error))
                {
                    context.AddFailure(error);
                }
            });
        RuleFor(r => r.Message).Cascade(CascadeMode.Stop)
            .NotEmpty().When(r => r.Verbs is null, ApplyConditionTo.CurrentValidator).WithMessage("is required (or verbs, a call script)")
            .Null().When(r => r.Verbs is not null, ApplyConditionTo.CurrentValidator).WithMessage("goes without verbs: send one or the other (a say verb speaks a message in a script)")
            .MaximumLength(CallFieldRules.MaxMessageLength).WithMessage($"must be at most {CallFieldRules.MaxMessageLength} characters")
            .Must(NoControlCharacters).WithMessage("must not contain control characters (line breaks, NUL); write it on one line");
        RuleFor(r => r.Verbs).Custom((verbs, context) =>
        {
            if (verbs is not { } json)
            {
                return;
            }
            if (!CallScript.TryParse(json, out var script, out var problems))
            {
                foreach (var problem in problems)
                {
                    context.AddFailure(problem.Path, problem.Reason);
                }
                return;
            }
            // Hooks go where webhooks may go: the same rules, checked on the URL now and on the address at each connection.
            for (var i = 0; i < script!.Verbs.Count; i++)
            {
                if (script.Verbs[i] switch { GatherVerb g => g.ActionHook, RedirectVerb r => r.ActionHook, _ => null } is { } hook
                    && webhooks.CheckUrl(hook.OriginalString) is { } refused)
                {
                    context.AddFailure($"verbs[{i}].{script.Verbs[i].Name}.actionHook", refused);
                }
            }
        });
        RuleFor(r => r.Repeat).Null().When(r => r.Verbs is not null).WithMessage("goes with message; in verbs, a say verb has loop");
        RuleFor(r => r.Acknowledge).Custom((acknowledge, context) =>
        {
            if (acknowledge is null)
            {
                return;
            }
            if (context.InstanceToValidate.Verbs is not null)
            {
                context.AddFailure("acknowledge", "goes with message; in verbs, a gather asks for keys");
                return;
            }
            foreach (var (name, key) in new[] { ("digit", acknowledge.Digit), ("repeatDigit", acknowledge.RepeatDigit) })
            {
                if (key is not null && key.Length != 1)
                {
                    context.AddFailure("acknowledge." + name, "must be one key: 0-9, * or #");
                    return;
                }
            }
            if (acknowledge.TimeoutSeconds is < 1 or > 60)
            {
                context.AddFailure("acknowledge.timeoutSeconds", "must be between 1 and 60");
            }
            else if (acknowledge.ToAcknowledgement().Problem() is { } problem)
            {
                context.AddFailure("acknowledge." + problem.Path, problem.Reason);
            }
        });
        RuleFor(r => r.Retry).Custom((retry, context) =>
        {
            if (retry is null)
            {
                return;
            }
            if (retry.Attempts is < 1 or > 10)
            {
                context.AddFailure("retry.attempts", "must be between 1 and 10 (the first attempt included)");
            }
            if (retry.DelaySeconds is < 0 or > 3600)
            {
                context.AddFailure("retry.delaySeconds", "must be between 0 and 3600");
            }
            if (retry.On is { } on && (on.Count == 0 || on.Any(o => !RetryRequest.Outcomes.Contains(o))))
            {
                context.AddFailure("retry.on", $"must list outcomes of {string.Join(", ", RetryRequest.Outcomes)}");
            }
            else if (retry.On?.Contains("not_acknowledged") == true && context.InstanceToValidate.Acknowledge is null)
            {
                context.AddFailure("retry.on", "not_acknowledged needs acknowledge");
            }
        });
        RuleFor(r => r.Escalate).Custom((numbers, context) =>
        {
            if (numbers is null)
            {
                return;
            }
            if (numbers.Count is 0 or > 10)
            {
                context.AddFailure("escalate", "must list 1–10 numbers");
                return;
            }
            for (var i = 0; i < numbers.Count; i++)
            {
                if (numbers[i] is null || numbers[i].Any(char.IsControl) || !PhoneNumber.TryParse(numbers[i], options.Numbers, out var number, out var error))
                {
                    context.AddFailure($"escalate[{i}]", "must be a phone number or extension");
                }
                else if (options.Policy.Check(number) is { } denied)
                {
                    context.AddFailure($"escalate[{i}]", denied);
                }
            }
        });
        RuleFor(r => r.Mode)
            .Must(m => m is null or "announce" or "conversation").WithMessage("must be announce or conversation")
            .NotEqual("conversation").WithMessage("conversation mode is not supported yet; use announce");
        RuleFor(r => r.CallerId)
            .Must(c => c is null || CallFieldRules.IsCallerId(c)).WithMessage(CallFieldRules.CallerIdRule);
        RuleFor(r => r.TimeoutSeconds).InclusiveBetween(5, 120).WithMessage("must be between 5 and 120");
        RuleFor(r => r.WebhookUrl).Cascade(CascadeMode.Stop)
            .Must(NoControlCharacters).WithMessage("must be an absolute http or https URL")
            .MaximumLength(2048).WithMessage("must be at most 2048 characters")
            .Custom((url, context) =>
            {
                if (url is not null && webhooks.CheckUrl(url) is { } refused)
                {
                    context.AddFailure(refused);
                }
            });
        RuleFor(r => r.Voice)
            .Must(v => v is null || CallFieldRules.IsVoiceName(v))
            .WithMessage("must be a voice name or id (letters, digits, _ - .)");
        RuleFor(r => r.Repeat).InclusiveBetween(1, 5).WithMessage("must be between 1 and 5");
        RuleFor(r => r.MaxDurationSeconds)
            .InclusiveBetween(1, (int)options.MaxCallDuration.TotalSeconds)
            .WithMessage($"must be between 1 and {(int)options.MaxCallDuration.TotalSeconds}");
        RuleFor(r => r.Headers)
            .Must(h => h is null || h.Count <= 20).WithMessage("at most 20 headers")
            .Must(h => h is null || h.Keys.All(k => k.Length > 2 && k.StartsWith("X-", StringComparison.OrdinalIgnoreCase) && k.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            .WithMessage("only X- headers may be added, with names of letters, digits and - _ .")
            .Must(h => h is null || h.Values.All(v => v is not null && v.Length <= 256 && NoControlCharacters(v)))
            .WithMessage("header values must be at most 256 characters without control characters");
        RuleFor(r => r.Tag).Custom((tag, context) =>
        {
            if (tag is { } value && TagRules.Check(value) is { } error)
            {
                context.AddFailure(error);
            }
        });
        RuleFor(r => r.WebhookEvents)
            .Must(e => e is null || e.All(s => States.Contains(s))).WithMessage($"must name states: {string.Join(", ", States)}");
        RuleFor(r => r.WebhookEvents)
            .Empty().When(r => r.WebhookUrl is null).WithMessage("needs a webhookUrl to send them to");
    }

    private static bool NoControlCharacters(string? value) => value is null || !value.Any(char.IsControl);
}
