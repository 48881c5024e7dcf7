"""Public pages, mounted at the site root by config/urls.py: the portal, case tracking, the public board
(留言板) with its feeds, the scoreboard (考核) and the person's single-use feedback links."""

from django.urls import path

from minyi.disclosure import board_views, feedback_views, feeds, scoreboard_views, views

app_name = "disclosure"
urlpatterns = [
    path("", views.portal, name="portal"),
    path("track/", views.track, name="track"),
    path("track/<str:tracking_number>/", views.track_case, name="track_case"),
    path("track/<str:tracking_number>/<slug:action>/", views.track_action, name="track_action"),
    path("board/", board_views.board_list, name="board"),
    path("board/<int:case_id>/", board_views.board_case, name="board_case"),
    path("board/<int:case_id>/support/", board_views.board_support, name="board_support"),
    path("board/feed/", feeds.BoardFeed(), name="board_feed"),
    path("board/feed/category/<slug:code>/", feeds.CategoryFeed(), name="board_feed_category"),
    path("board/feed/region/<slug:code>/", feeds.RegionFeed(), name="board_feed_region"),
    path("scoreboard/", scoreboard_views.scoreboard, name="scoreboard"),
    path(
        "scoreboard/department/<int:department_id>/",
        scoreboard_views.department_trend,
        name="scoreboard_department",
    ),
    path("scoreboard/region/<int:region_id>/", scoreboard_views.region_trend, name="scoreboard_region"),
    path("feedback/<str:token>/", feedback_views.feedback, name="feedback"),
]
