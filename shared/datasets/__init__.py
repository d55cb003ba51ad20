"""The data layer: datasets on disk -> one index (a row per image file) + validation report -> named,
twin-aware splits -> task views (YOLO folders, anomaly folders, arrays, class folders). Also the seeded
synthetic NEU-like generator. The only code that knows file formats and splits."""
