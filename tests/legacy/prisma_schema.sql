-- The Node version's database, as `prisma migrate` creates it from its schema.prisma: quoted
-- PascalCase tables, camelCase columns, enums as PostgreSQL enum types, TEXT ids filled by
-- Prisma's @default(uuid()), TIMESTAMP(3) columns holding UTC. The legacy import tests build
-- their source database from this file.

-- CreateEnum
CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN');

-- CreateEnum
CREATE TYPE "MediaStatus" AS ENUM ('QUEUED', 'PROCESSING', 'ANALYZED', 'PARTIALLY_ANALYZED', 'FAILED');

-- CreateEnum
CREATE TYPE "MediaType" AS ENUM ('VIDEO', 'IMAGE', 'AUDIO', 'UNKNOWN');

-- CreateEnum
CREATE TYPE "PredictionType" AS ENUM ('REAL', 'FAKE');

-- CreateEnum
CREATE TYPE "AnalysisStatus" AS ENUM ('PENDING', 'COMPLETED', 'FAILED');

-- CreateEnum
CREATE TYPE "ServerStatus" AS ENUM ('HEALTHY', 'DEGRADED', 'UNHEALTHY', 'UNKNOWN');

-- CreateTable
CREATE TABLE "User" (
    "id" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "firstName" TEXT NOT NULL,
    "lastName" TEXT NOT NULL,
    "password" TEXT NOT NULL,
    "role" "Role" NOT NULL DEFAULT 'USER',
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Media" (
    "id" TEXT NOT NULL,
    "filename" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "publicId" TEXT NOT NULL,
    "mimetype" TEXT NOT NULL,
    "size" INTEGER NOT NULL,
    "description" VARCHAR(500),
    "status" "MediaStatus" NOT NULL DEFAULT 'QUEUED',
    "mediaType" "MediaType" NOT NULL DEFAULT 'UNKNOWN',
    "hasAudio" BOOLEAN,
    "metadata" JSONB,
    "userId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "latestAnalysisRunId" TEXT,

    CONSTRAINT "Media_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AnalysisRun" (
    "id" TEXT NOT NULL,
    "mediaId" TEXT NOT NULL,
    "runNumber" INTEGER NOT NULL,
    "status" "MediaStatus" NOT NULL DEFAULT 'QUEUED',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AnalysisRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DeepfakeAnalysis" (
    "id" TEXT NOT NULL,
    "analysisRunId" TEXT NOT NULL,
    "modelName" TEXT NOT NULL,
    "prediction" "PredictionType",
    "confidence" DOUBLE PRECISION,
    "status" "AnalysisStatus" NOT NULL DEFAULT 'PENDING',
    "errorMessage" TEXT,
    "processingTime" DOUBLE PRECISION,
    "mediaType" TEXT,
    "resultPayload" JSONB,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "DeepfakeAnalysis_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ServerHealth" (
    "id" TEXT NOT NULL,
    "status" "ServerStatus" NOT NULL,
    "responseTimeMs" INTEGER,
    "statsPayload" JSONB,
    "checkedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ServerHealth_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");

-- CreateIndex
CREATE INDEX "Media_userId_createdAt_idx" ON "Media"("userId", "createdAt" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "Media_latestAnalysisRunId_key" ON "Media"("latestAnalysisRunId");

-- CreateIndex
CREATE UNIQUE INDEX "AnalysisRun_mediaId_runNumber_key" ON "AnalysisRun"("mediaId", "runNumber");

-- CreateIndex
CREATE INDEX "DeepfakeAnalysis_analysisRunId_idx" ON "DeepfakeAnalysis"("analysisRunId");

-- CreateIndex
CREATE INDEX "DeepfakeAnalysis_modelName_idx" ON "DeepfakeAnalysis"("modelName");

-- CreateIndex
CREATE INDEX "DeepfakeAnalysis_processingTime_idx" ON "DeepfakeAnalysis"("processingTime");

-- CreateIndex
CREATE INDEX "DeepfakeAnalysis_mediaType_idx" ON "DeepfakeAnalysis"("mediaType");

-- CreateIndex
CREATE INDEX "DeepfakeAnalysis_confidence_idx" ON "DeepfakeAnalysis"("confidence");

-- CreateIndex
CREATE INDEX "ServerHealth_checkedAt_idx" ON "ServerHealth"("checkedAt");

-- AddForeignKey
ALTER TABLE "Media" ADD CONSTRAINT "Media_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Media" ADD CONSTRAINT "Media_latestAnalysisRunId_fkey" FOREIGN KEY ("latestAnalysisRunId") REFERENCES "AnalysisRun"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AnalysisRun" ADD CONSTRAINT "AnalysisRun_mediaId_fkey" FOREIGN KEY ("mediaId") REFERENCES "Media"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DeepfakeAnalysis" ADD CONSTRAINT "DeepfakeAnalysis_analysisRunId_fkey" FOREIGN KEY ("analysisRunId") REFERENCES "AnalysisRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;
