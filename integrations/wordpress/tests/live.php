<?php
/**
 * The plugin against a real service, without WordPress: posts go through the plugin's own mapping
 * (Article_Mapper), client (Service_Client) and transport (WP_Transport, over wp_remote_request
 * stand-ins on PHP streams); the block comes from the real `GET similar` through Display::block_html
 * (settings, transient cache, Block_Renderer). tests/test_wordpress_plugin.py runs it:
 *
 *     RH_SERVICE_URL=http://127.0.0.1:PORT RH_API_KEY=... php live.php posts.json
 *
 * posts.json: {"site": {"home_url", "locale", "name"}, "posts": [post, ...]} (posts as Sync::article
 * reads them). The first posts are pushed and kept; the last one is pushed, then deleted. Prints one
 * JSON object: what was pushed, each result, the first post's block (fresh and cached), the blocks of
 * an unknown article, of a service that refuses connections and of one that never answers.
 *
 * @package RelatedHeadlines
 */

use RelatedHeadlines\Article_Mapper;
use RelatedHeadlines\Display;
use RelatedHeadlines\Plugin;
use RelatedHeadlines\Settings;

require __DIR__ . '/bootstrap.php';
require __DIR__ . '/live-stubs.php';
require_once RELATED_HEADLINES_PLUGIN . '/includes/class-wp-transport.php';
require_once RELATED_HEADLINES_PLUGIN . '/includes/class-settings.php';
require_once RELATED_HEADLINES_PLUGIN . '/includes/class-sync.php';
require_once RELATED_HEADLINES_PLUGIN . '/includes/class-display.php';
require_once RELATED_HEADLINES_PLUGIN . '/includes/class-plugin.php';

$input = json_decode( file_get_contents( $argv[1] ), true );
$GLOBALS['live_options'][ Settings::OPTION ] = array(
	'service_url' => getenv( 'RH_SERVICE_URL' ),
	'api_key'     => getenv( 'RH_API_KEY' ),
	'k'           => 5,
	'title'       => '',
);
$site = array(
	'key'    => Article_Mapper::site_key( $input['site']['home_url'] ),
	'locale' => $input['site']['locale'],
	'name'   => $input['site']['name'],
);

$client   = Plugin::client();
$articles = array();
$pushed   = array();
foreach ( $input['posts'] as $post ) {
	$article    = Article_Mapper::to_article( $post, $site );
	$articles[] = $article;
	$pushed[]   = $client->push( $article );
}
$last    = end( $articles );
$deleted = $client->delete( $last['id'] );

// The first post's block, then again: the second comes from the transient cache, no request.
$display  = new Display();
$first_id = $articles[0]['id'];
$html     = $display->block_html( $first_id, array() );
$sent     = count( $GLOBALS['live_requests'] );
$cached   = $display->block_html( $first_id, array() );
$repeated = count( $GLOBALS['live_requests'] ) - $sent;
$unknown  = $display->block_html( 'wp-nowhere.example-1', array( 'k' => 3 ) );

// A service that never answers (a socket nobody reads: the read times out) renders nothing, in time.
$silent = stream_socket_server( 'tcp://127.0.0.1:0' );
$GLOBALS['live_options'][ Settings::OPTION ]['service_url'] = 'http://' . stream_socket_get_name( $silent, false );
$start       = microtime( true );
$slow_html   = $display->block_html( $first_id, array() );
$slow_time   = microtime( true ) - $start;
$unreachable = (bool) get_transient( 'related_headlines_unreachable' );
// While it is marked unreachable, other blocks do not even try.
$sent       = count( $GLOBALS['live_requests'] );
$skipped    = $display->block_html( $articles[1]['id'], array() );
$while_down = count( $GLOBALS['live_requests'] ) - $sent;
fclose( $silent );

// A service that refuses connections renders nothing too.
$GLOBALS['live_transients'] = array();
$closed                     = stream_socket_server( 'tcp://127.0.0.1:0' );
$closed_url                 = 'http://' . stream_socket_get_name( $closed, false );
fclose( $closed );
$GLOBALS['live_options'][ Settings::OPTION ]['service_url'] = $closed_url;
$down_html = $display->block_html( $first_id, array() );

echo json_encode(
	array(
		'articles'            => $articles,
		'pushed'              => $pushed,
		'deleted'             => $deleted,
		'html'                => $html,
		'cached_html'         => $cached,
		'requests_for_cached' => $repeated,
		'style_enqueued'      => isset( $GLOBALS['live_styles']['related-headlines'] ),
		'unknown_html'        => $unknown,
		'slow_html'           => $slow_html,
		'slow_seconds'        => $slow_time,
		'unreachable_flag'    => $unreachable,
		'skipped_html'        => $skipped,
		'requests_while_down' => $while_down,
		'down_html'           => $down_html,
		'reads_with_key'      => count(
			array_filter(
				$GLOBALS['live_requests'],
				function ( $request ) {
					return 'GET' === $request['method'] && $request['with_key'];
				}
			)
		),
	),
	JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_PRETTY_PRINT
) . "\n";
