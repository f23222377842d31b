"""gRPC transport for CodeService: decode, call the use case, encode. Errors are
raised as servers.platform.errors.* and mapped by the platform."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from aether.code.v1 import code_service_pb2 as pb
from aether.code.v1 import code_service_pb2_grpc, review_pb2

from servers.code import mapping
from servers.code.sandbox.runners import RunOptions
from servers.code.testruns import CodeWorkUseCases
from servers.code.usecases import ReviewUseCases
from servers.platform.pagination import pagination
from servers.platform.paging import PageRequest

DEFAULT_RUN_TIMEOUT = 60


class CodeServicer(code_service_pb2_grpc.CodeServiceServicer):
    def __init__(self, reviews: ReviewUseCases, work: CodeWorkUseCases):
        self._reviews = reviews
        self._work = work

    async def ReviewCode(
        self, request: pb.ReviewCodeRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReviewCodeResponse:
        review = await self._reviews.review(
            request.code, request.language, request.context, request.request_id, request.filename
        )
        return mapping.review_response(review)

    async def AnalyzeComplexity(
        self, request: pb.AnalyzeComplexityRequest, context: grpc.aio.ServicerContext
    ) -> pb.AnalyzeComplexityResponse:
        language, report = await self._reviews.complexity(request.code, request.language, request.filename)
        return mapping.complexity_response(language, report)

    async def ListReviews(
        self, request: pb.ListReviewsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListReviewsResponse:
        page = await self._reviews.list(
            PageRequest.of(request.page, request.limit),
            request.sort or "createdAt",
            request.order or "desc",
            request.language,
            request.user_id,
        )
        return pb.ListReviewsResponse(
            reviews=[mapping.review_to_proto(r) for r in page.items], pagination=pagination(page)
        )

    async def GetReview(
        self, request: pb.GetReviewRequest, context: grpc.aio.ServicerContext
    ) -> review_pb2.Review:
        return mapping.review_to_proto(await self._reviews.get(request.id))

    async def RefactorCode(
        self, request: pb.RefactorCodeRequest, context: grpc.aio.ServicerContext
    ) -> pb.RefactorCodeResponse:
        done = await self._work.refactor(
            request.code, request.instruction, request.language, request.filename
        )
        return pb.RefactorCodeResponse(
            refactored_code=done.code, changes=list(done.changes), explanation=done.explanation
        )

    async def GenerateTests(
        self, request: pb.GenerateTestsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GenerateTestsResponse:
        done = await self._work.generate_tests(
            request.code, request.language, request.framework, request.filename
        )
        return pb.GenerateTestsResponse(
            tests=done.tests,
            test_count=done.test_count,
            coverage_estimate=done.coverage_estimate,
            framework=done.framework,
        )

    async def RunTests(
        self, request: pb.RunTestsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.RunTestsResponse]:
        options = RunOptions(
            runner=request.runner,
            test_paths=tuple(request.test_paths),
            keyword=request.keyword,
            verbose=request.verbose,
            fail_fast=request.fail_fast,
        )
        timeout = request.timeout_seconds or DEFAULT_RUN_TIMEOUT
        # A cancelled call (client gone) cancels this generator: the run's finally kills and cleans up.
        async for item in self._work.run_tests(dict(request.files), options, timeout):
            yield mapping.run_message(item)
