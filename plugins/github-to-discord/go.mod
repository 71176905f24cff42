module github-to-discord

go 1.24
