# crisis-radar worker image: `docker build -t crisis-radar .`, run by docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 crisis
WORKDIR /app

# Dependencies first (cached layer), then the code.
COPY pyproject.toml README.md ./
COPY crisis_radar/__init__.py crisis_radar/__init__.py
RUN pip install --quiet . && pip uninstall --quiet --yes crisis-radar
COPY . .
# Editable, so the code finds deploy/ (migrations, watchlist) next to itself in /app.
RUN pip install --quiet --no-deps -e . \
    && mkdir -p /home/crisis/stack && chown -R crisis:crisis /home/crisis

USER crisis
ENV CRISIS_RADAR_STACK_DIR=/home/crisis/stack
EXPOSE 6066 8000
CMD ["crisis-radar", "worker"]
