# One image for every service; docker-compose.yml picks the command.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY sequences ./sequences
COPY tracker ./tracker
COPY templates ./templates
# Editable, so the app finds templates/ beside its packages.
RUN pip install -e . && useradd --create-home followup && mkdir -p /data && chown followup /data
USER followup
EXPOSE 8000 1025
CMD ["followup", "--help"]
