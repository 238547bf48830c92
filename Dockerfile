# VoiceBridge host image: docker build -t voicebridge . (docker-compose.yml builds it for you)
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Voice.Host -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
# flite renders each message while the phone rings, so the callee hears it the moment they answer.
RUN apt-get update && apt-get install -y --no-install-recommends flite && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app .
# Calls, history, the webhook outbox, rendered speech and the generated API key and webhook secret.
ENV DATA_DIR=/data
VOLUME ["/data"]
ENTRYPOINT ["dotnet", "Voice.Host.dll"]
