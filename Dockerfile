# warren: API, workers and the fake LLM server in one image; the command picks the role
# (docker-compose.yml runs `start api`, `start worker`, and bin/fake-llm.js).
FROM node:20-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first, so editing the source does not reinstall them. TypeScript runs through tsx,
# a runtime dependency: there is no build step and dev dependencies stay out of the image.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY . .

# Never run the router as root.
USER node

EXPOSE 3000 9464 8787
ENTRYPOINT ["node", "bin/warren.js"]
CMD ["start", "all"]
